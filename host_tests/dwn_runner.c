/* dwn_runner.c: host runner for a generated dwn-mcu model library.
 *
 * Reads feature vectors from stdin, each feature an 8-hex-digit word, whitespace optional between
 * fields, one vector per line; prints one line per vector: the class, then the scores. For a float model
 * (NAME_INPUT_IS_FLOAT) the word is the float32 bit pattern (so NaN payloads, -0.0 and subnormals travel
 * exactly); for an integer model it is the value as a two's-complement int32, converted to the input type
 * (dwn_mcu.compiler.host.format_vectors checks the range).
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
#define RUNNER_INPUT_IS_FLOAT DWN_CAT(DWN_PREFIX, _INPUT_IS_FLOAT)
typedef DWN_CAT(DWN_NAME, _score_t) runner_score_t;
typedef DWN_CAT(DWN_NAME, _input_t) runner_input_t;

static runner_input_t features[RUNNER_FEATURES];
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
#if RUNNER_INPUT_IS_FLOAT
            memcpy(&features[f], &bits, sizeof bits);
#else
            /* two's complement without relying on the implementation-defined unsigned -> signed cast */
            features[f] = (runner_input_t)((bits & 0x80000000u) ? -(long)(~bits) - 1L : (long)bits);
#endif
        }
        printf("%u", (unsigned)RUNNER_PREDICT(features, scores));
        for (c = 0; c < RUNNER_CLASSES; ++c) {
            printf(" %ld", (long)scores[c]);
        }
        putchar('\n');
        ++vectors;
    }
}
