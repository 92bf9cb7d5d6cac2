/* Test firmware entry on qemu-system-riscv32 -M virt -bios none: set the stack, zero .bss, call main
   (main exits through semihosting). */
  .section .text.start
  .globl _start
_start:
  la sp, _stack_top
  la t0, _sbss
  la t1, _ebss
1:bgeu t0, t1, 2f
  sw zero, 0(t0)
  addi t0, t0, 4
  j 1b
2:call main
3:j 3b
