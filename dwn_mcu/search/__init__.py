"""The model search: trials of both families (DWN, XGBoost) proposed by a learning sampler (Optuna,
multi-objective: validation accuracy, flash, priced latency) and run as Ray tasks.

One module a job: `space` (what is searched, each trial's seed), `trial` (one trial, pure: train, price,
score), `records` (trial records, trials.csv, the search's manifest for --resume), `pareto` (the front,
pareto.csv, pareto.png), `engine` (the batches on Ray, retries, interrupts, resume). Only `engine`
imports Ray and Optuna, and only when a search runs: the rest of the CLI starts without them.

The determinism rule (docs/search.md): trials are asked in fixed batches of `batch` per family, all of
a batch run, then told to the sampler in trial-number order; the sampler is seeded and each trial's seed
is a hash of its parameters and the search's seed. So the set of trials and their metrics does not
depend on the number of workers or the order they finish in (a --time-limit can only cut it short at a
batch boundary).
"""
