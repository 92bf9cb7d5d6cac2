/* Host runner for a generated XGBoost model: reads one feature vector per line (NUM_FEATURES float32
 * values, each as 8 hex digits of its bit pattern, spaces optional; for an int16 model, NAME_INPUT_IS_FLOAT
 * 0, the 8 hex digits are the value's two's-complement int32 word), and prints per line the class
 * and the NUM_MARGINS margins as 8-hex-digit bit patterns. Bit patterns keep NaN, infinities and -0.0
 * exact in both directions.
 *
 * Build with the model's name and header, for example:
 *   gcc -std=c99 -Wall -Wextra -Werror -pedantic -DDWN_NAME=xgbm -DDWN_PREFIX=XGBM \
 *       -DDWN_HEADER='"xgbm.h"' -I gen xgboost_runner.c gen/xgbm.c -o runner */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include DWN_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define PREDICT CAT(DWN_NAME, _predict)
#define NUM_FEATURES CAT(DWN_PREFIX, _NUM_FEATURES)
#define NUM_MARGINS CAT(DWN_PREFIX, _NUM_MARGINS)
#define INPUT_IS_FLOAT CAT(DWN_PREFIX, _INPUT_IS_FLOAT)
typedef CAT(DWN_NAME, _input_t) runner_input_t;

int main(void)
{
    static runner_input_t features[NUM_FEATURES];
    float margins[NUM_MARGINS];
    unsigned long row = 0;
    for (;;) {
        int i;
        uint8_t cls;
        for (i = 0; i < NUM_FEATURES; ++i) {
            unsigned long bits;
            uint32_t u;
            int got = scanf("%8lx", &bits);
            if (got == EOF && i == 0) {
                return 0;
            }
            if (got != 1) {
                fprintf(stderr, "xgboost_runner: row %lu: expected %d hex values\n", row + 1, NUM_FEATURES);
                return 1;
            }
            u = (uint32_t)bits;
#if INPUT_IS_FLOAT
            memcpy(&features[i], &u, sizeof u);
#else
            features[i] = (runner_input_t)((u & 0x80000000u) ? -(long)(~u) - 1L : (long)u);
#endif
        }
        cls = PREDICT(features, margins);
        printf("%u", (unsigned)cls);
        for (i = 0; i < NUM_MARGINS; ++i) {
            uint32_t u;
            memcpy(&u, &margins[i], sizeof u);
            printf(" %08lx", (unsigned long)u);
        }
        printf("\n");
        if (PREDICT(features, NULL) != cls) { /* margins may be NULL: same class */
            fprintf(stderr, "xgboost_runner: row %lu: class differs without margins\n", row + 1);
            return 1;
        }
        ++row;
    }
}
