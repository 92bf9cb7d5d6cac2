/* dwn_runner.c: host runner for a generated dwn-mcu model library.
 *
 * Reads feature vectors from stdin, each feature an 8-hex-digit float32 bit pattern (so NaN payloads,
 * -0.0 and subnormals travel exactly), whitespace optional between fields, one vector per line; prints
 * one line per vector: the class, then the scores.
 *
 * Build (dwn_mcu/compiler/host.py does this), for a model named `dwn_model`:
 *   gcc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I<lib>/src -DDWN_NAME=dwn_model \
 *       -DDWN_PREFIX=DWN_MODEL '-DDWN_HEADER="dwn_model.h"' dwn_runner.c <lib>/src/dwn_model.c
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include DWN_HEADER

#define DWN_CAT_(a, b) a##b
#define DWN_CAT(a, b) DWN_CAT_(a, b)
#define RUNNER_FEATURES DWN_CAT(DWN_PREFIX, _NUM_FEATURES)
#define RUNNER_CLASSES DWN_CAT(DWN_PREFIX, _NUM_CLASSES)
#define RUNNER_PREDICT DWN_CAT(DWN_NAME, _predict)
typedef DWN_CAT(DWN_NAME, _score_t) runner_score_t;

static float features[RUNNER_FEATURES];
static runner_score_t scores[RUNNER_CLASSES];

int main(void)
{
    unsigned long vectors = 0;
    for (;;) {
        unsigned f, c;
        for (f = 0; f < RUNNER_FEATURES; ++f) {
            unsigned long word;
            uint32_t bits;
            int got = scanf("%8lx", &word);
            if (got != 1) {
                if (f == 0 && got == EOF) {
                    return 0;
                }
                fprintf(stderr, "dwn_runner: vector %lu: feature %u is not an 8-hex-digit word\n", vectors, f);
                return 3;
            }
            bits = (uint32_t)word;
            memcpy(&features[f], &bits, sizeof bits);
        }
        printf("%u", (unsigned)RUNNER_PREDICT(features, scores));
        for (c = 0; c < RUNNER_CLASSES; ++c) {
            printf(" %ld", (long)scores[c]);
        }
        putchar('\n');
        ++vectors;
    }
}
