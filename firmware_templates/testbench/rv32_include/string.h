/* Debian ships no C library for riscv64-unknown-elf: the freestanding test firmware defines these two
   (in main.c) and this header declares them for the model's sources. */
#ifndef TB_RV32_STRING_H
#define TB_RV32_STRING_H
#include <stddef.h>
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
#endif
