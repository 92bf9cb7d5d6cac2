"""The simavr harness and the QEMU runners: exact counts, exit status, crashes and limits."""

import subprocess

import pytest

from dwn_mcu.targets.qemu import run_cortex_m, run_rv32
from dwn_mcu.targets.simavr import run_avr
from target_tools import require_target
from dwn_mcu.targets.toolchains import TargetError

# Two regions in assembly: the markers alone, and the markers around ten single-cycle `nop`s.
AVR_PROGRAM = r"""
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/interrupt.h>
int main(void) {
  __asm__ volatile("ldi r24, 1\n ldi r25, 2\n out %0, r24\n out %0, r25\n"
                   "out %0, r24\n .rept 10\n nop\n .endr\n out %0, r25\n"
                   :: "I"(_SFR_IO_ADDR(GPIOR1)) : "r24", "r25");
  GPIOR0 = 'h'; GPIOR0 = 'i'; GPIOR0 = '\n';
  GPIOR2 = EXIT_STATUS;
  cli(); sleep_cpu();
  return 0;
}
"""


def _avr_elf(tmp_path, status=0, body=AVR_PROGRAM):
    src = tmp_path / "p.c"
    src.write_text(body)
    elf = tmp_path / f"p{status}.elf"
    subprocess.run(["avr-gcc", "-Os", "-mmcu=atmega328p", f"-DEXIT_STATUS={status}", "-o", str(elf), str(src)],
                   check=True)
    return elf


def test_avr_harness_counts_exact_cycles_and_console(tmp_path):
    require_target("avr")
    out = run_avr(_avr_elf(tmp_path))
    assert out.text.strip() == "hi"
    empty, ten_nops = out.regions
    assert ten_nops - empty == 10  # ten single-cycle nops, exactly
    assert out.state == "done"


def test_avr_harness_reports_exit_status(tmp_path):
    require_target("avr")
    with pytest.raises(TargetError, match="status 5"):
        run_avr(_avr_elf(tmp_path, status=5))


def test_avr_harness_stops_an_endless_loop_at_the_cycle_limit(tmp_path):
    require_target("avr")
    body = "int main(void) { for (;;) { __asm__ volatile(\"nop\"); } }\n"
    with pytest.raises(TargetError, match="cycle-limit"):
        run_avr(_avr_elf(tmp_path, body=body), max_cycles=100_000, timeout=20)


def test_avr_harness_feeds_uart_input(tmp_path):
    require_target("avr")
    body = r"""
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/interrupt.h>
static void put(char c) { loop_until_bit_is_set(UCSR0A, UDRE0); UDR0 = c; }
int main(void) {
  UCSR0A = _BV(U2X0); UBRR0 = 16; UCSR0B = _BV(TXEN0) | _BV(RXEN0); UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  for (;;) { loop_until_bit_is_set(UCSR0A, RXC0); char c = UDR0; if (c == '!') break; put(c + 1); }
  loop_until_bit_is_set(UCSR0A, TXC0);
  cli(); sleep_cpu();
  return 0;
}
"""
    feed = tmp_path / "in.txt"
    feed.write_text("HAL!")
    out = run_avr(_avr_elf(tmp_path, body=body), uart_in=feed, timeout=20)
    assert out.text == "IBM\n"  # the harness ends an unterminated line before its @END line


ARM_PROGRAM = r"""
#include <stdint.h>
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op; register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory"); return r0;
}
static char *fmt(char *p, uint32_t v) { char t[12]; int n = 0; do { t[n++] = '0' + v % 10; v /= 10; } while (v);
  while (n) *p++ = t[--n]; return p; }
static void region(uint32_t a, uint32_t b) { char l[24] = "@REGION ", *p = fmt(l + 8, (a - b) & 0xFFFFFFu);
  *p++ = '\n'; *p = 0; semihost(4, l); }
void *memset(void *d, int c, unsigned n) { char *q = d; while (n--) *q++ = (char)c; return d; }
extern uint32_t _estack;
void Reset_Handler(void);
__attribute__((section(".isr_vector"), used)) const void *const vt[2] = { &_estack, Reset_Handler };
void Reset_Handler(void) {
  SYST_RVR = 0xFFFFFFu; SYST_CVR = 0; SYST_CSR = 5u;
  uint32_t a, b;
#define NOPS(N) __asm__ volatile("ldr %0, [%2]\n .rept " #N "\n nop\n .endr\n ldr %1, [%2]" \
                                 : "=&r"(a), "=&r"(b) : "r"(&SYST_CVR) : "memory"); region(a, b);
  NOPS(1) /* the first read after SysTick starts is one instruction late: the testbench's empty region absorbs it */
  NOPS(10) NOPS(100) NOPS(1000) NOPS(3) NOPS(10)
  semihost(4, "@DONE\n");
  uint32_t blk[2] = {0x20026u, 0u}; /* on the stack: this program has no .data copy */
  semihost(0x20, blk);
  for (;;) {}
}
"""


def test_qemu_cortex_m_counts_instructions_exactly(tmp_path):
    target = require_target("cortex-m3")
    from dwn_mcu.resources import resource_dir

    ld = resource_dir("firmware_templates") / "testbench" / "cortex_m.ld"
    (tmp_path / "p.c").write_text(ARM_PROGRAM)
    elf = tmp_path / "p.elf"
    subprocess.run([target.cc, "-Os", "-mcpu=cortex-m3", "-mthumb", "-nostdlib", "-nostartfiles", f"-T{ld}",
                    "-o", str(elf), str(tmp_path / "p.c")], check=True)
    out = run_cortex_m(elf, "mps2-an385", timeout=30)
    # SysTick under -icount converts exactly to instructions between the two reads
    assert out.regions[1:] == (10, 100, 1000, 3, 10)


def test_qemu_rv32_exit_status_is_checked(tmp_path):
    target = require_target("rv32")
    from dwn_mcu.resources import resource_dir

    tb = resource_dir("firmware_templates") / "testbench"
    (tmp_path / "p.c").write_text(r"""
static int semihost(int op, const void *arg) {
  register int a0 __asm__("a0") = op; register const void *a1 __asm__("a1") = arg;
  __asm__ volatile(".option push\n.option norvc\n.balign 16\nslli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n"
                   ".option pop" : "+r"(a0) : "r"(a1) : "memory");
  return a0;
}
int main(void) { static unsigned blk[2] = {0x20026u, 3u}; semihost(0x20, blk); for (;;) {} }
""")
    elf = tmp_path / "p.elf"
    subprocess.run([target.cc, *target.ldflags, f"-T{tb / 'rv32.ld'}", "-o", str(elf), str(tb / "rv32_start.S"),
                    str(tmp_path / "p.c")], check=True)
    with pytest.raises(TargetError, match="status 3"):
        run_rv32(elf, timeout=30)


def test_qemu_rv32_counts_instructions_exactly(tmp_path):
    target = require_target("rv32")
    from dwn_mcu.resources import resource_dir

    tb = resource_dir("firmware_templates") / "testbench"
    (tmp_path / "p.c").write_text(r"""
static int semihost(int op, const void *arg) {
  register int a0 __asm__("a0") = op; register const void *a1 __asm__("a1") = arg;
  __asm__ volatile(".option push\n.option norvc\n.balign 16\nslli x0, x0, 0x1f\nebreak\nsrai x0, x0, 7\n"
                   ".option pop" : "+r"(a0) : "r"(a1) : "memory");
  return a0;
}
static char *fmt(char *p, unsigned v) { char t[12]; int n = 0; do { t[n++] = '0' + v % 10; v /= 10; } while (v);
  while (n) *p++ = t[--n]; return p; }
static void region(unsigned a, unsigned b) { char l[24]; char *p = l;
  *p++ = '@'; *p++ = 'R'; *p++ = 'E'; *p++ = 'G'; *p++ = 'I'; *p++ = 'O'; *p++ = 'N'; *p++ = ' ';
  p = fmt(p, b - a); *p++ = '\n'; *p = 0; semihost(4, l); }
#define NOPS(N) __asm__ volatile("csrr %0, minstret\n .rept " #N "\n nop\n .endr\n csrr %1, minstret" \
                                 : "=&r"(a), "=&r"(b)); region(a, b);
int main(void) {
  unsigned a, b;
  NOPS(1) NOPS(10) NOPS(100) NOPS(1000)
  semihost(4, "@DONE\n");
  unsigned blk[2] = {0x20026u, 0u}; semihost(0x20, blk); for (;;) {}
}
""")
    elf = tmp_path / "p.elf"
    subprocess.run([target.cc, "-Os", "-march=rv32imc_zicsr", "-mabi=ilp32", "-nostdlib", "-nostartfiles",
                    f"-T{tb / 'rv32.ld'}", "-o", str(elf), str(tb / "rv32_start.S"), str(tmp_path / "p.c")],
                   check=True)
    assert run_rv32(elf, timeout=30).regions == (1, 10, 100, 1000)  # minstret under -icount


def test_an_inference_longer_than_the_cortex_m_counter_is_an_error():
    require_target("cortex-m3")
    import numpy as np

    from dwn_mcu.synthetic import random_model
    from dwn_mcu.targets.verify import verify_on_target

    model = random_model(seed=0, num_features=1, bits_per_feature=2, luts=(2,), n=1, num_classes=2)
    # a library with the model API whose predict spins for about 6 M instructions (SysTick covers 5.2 M)
    header = ("#include <stdint.h>\n#define SPIN_NUM_FEATURES 1u\n#define SPIN_NUM_CLASSES 2u\n"
              "typedef int16_t spin_score_t;\nuint8_t spin_predict(const float *features, spin_score_t *scores);\n")
    body = ('#include "spin.h"\nuint8_t spin_predict(const float *features, spin_score_t *scores) {\n'
            "  volatile uint32_t i; (void)features;\n  for (i = 0; i < 1500000u; i++) {}\n"
            "  scores[0] = 0; scores[1] = 0; return 0;\n}\n")
    X = np.zeros((1, 1), np.float32)
    with pytest.raises(TargetError, match="counter's range"):
        verify_on_target(model, "cortex-m3", X, {"spin.h": header, "spin.c": body}, "spin", measure_model_share=False)
