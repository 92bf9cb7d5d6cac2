/* Minimal Cortex-M startup for the test firmware: vector table, copy .data, zero .bss, enable the FPU
   on M4F builds, call main. A fault exits through semihosting with status 99. */
#include <stdint.h>
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
extern int main(void);
void Reset_Handler(void);
static void fault_exit(void) {
  static uint32_t block[2] = {0x20026u, 99u};
  register int r0 __asm__("r0") = 0x20; /* SYS_EXIT_EXTENDED */
  register const void *r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  for (;;) {}
}
static void Default_Handler(void) { fault_exit(); }
__attribute__((section(".isr_vector"), used))
const void *const tb_vector_table[16] = {
  &_estack, Reset_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
  Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler};
void Reset_Handler(void) {
#if defined(__ARM_FP)
  *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: CP10, CP11 full access */
#endif
  uint32_t *src = &_sidata, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  main();
  fault_exit();
}
