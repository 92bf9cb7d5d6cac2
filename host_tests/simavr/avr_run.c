/* avr_run: runs an AVR ELF in simavr to completion and reports what a test needs, deterministically.
 *
 *   avr_run prog.elf [--max-cycles N] [--mcu NAME] [--freq HZ] [--uart-in FILE] [--idle-cycles N]
 *
 * - Bytes the firmware writes to GPIOR0 (the simavr console register) and bytes it sends on UART0 go
 *   to stdout unchanged, in program order.
 * - Writes of 1 and 2 to GPIOR1 bracket a measured region: on the 2 the harness prints
 *   "@REGION <cycles> <stack>\n" on stdout: the exact cycles between the two writes (they include the
 *   one-cycle `out` of the first marker; a firmware subtracts an empty region to calibrate), and the
 *   deepest stack below the stack pointer the region started with, in bytes.
 * - Inside a region, a write of k >= 3 to GPIOR1 is a phase mark: the harness prints
 *   "@MARK <k> <cycles>\n", the cycles from the region's start to that write (counted like a region's).
 * - The byte last written to GPIOR2 is the firmware's exit status.
 * - --uart-in feeds a file to UART0's receiver at the simulated baud rate (flow control from simavr's
 *   receive FIFO); with --idle-cycles the run ends, successfully, once all input is consumed and the
 *   firmware has sent nothing for that many cycles (an Arduino loop() never returns).
 * - --uart-lines makes it a request/response exchange: the first line is sent once the firmware has
 *   printed --uart-wait-lines lines (a start-up banner or self-test) and --uart-start-cycles have
 *   passed; each further line only after the firmware answered the previous one with a newline. (A
 *   sketch busy in a long computation would otherwise overflow its 64-byte receive buffer.)
 * - The run ends when the firmware sleeps with interrupts off (cli; sleep), crashes, or passes
 *   --max-cycles. Last line: "@END state=<done|idle|crashed|cycle-limit> exit=<n> cycles=<n>
 *   max_stack=<n>". Exit status: the firmware's status when done or idle, 3 crashed, 4 cycle limit,
 *   2 usage or load error. Never waits for a debugger.
 * - --uart-pty makes UART0 a serial port, as a board on USB would be: the harness opens a
 *   pseudo-terminal, prints "@PTY <path>" and bridges it to UART0 in both directions; a host program
 *   (pyserial) opens <path> like a board's port. Bytes cross at the baud rate the host sets on the
 *   port only if it matches the firmware's (UBRR0 and U2X0, within 5%, as real UARTs tolerate);
 *   otherwise they arrive garbled both ways, as on a wire. Simulated time is held to the wall clock
 *   (the board runs no faster than a real one; the harness sleeps rather than spin).
 *   The run ends on SIGTERM or SIGINT (with the @END line); @REGION lines are flushed as they happen.
 *   (UART0 registers of the ATmega328P.)
 */
#define _DEFAULT_SOURCE /* cfmakeraw */
#define _XOPEN_SOURCE 600 /* posix_openpt */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_io.h"
#include "sim_irq.h"
#include "avr_uart.h"

#define CONSOLE_REG 0x3E /* GPIOR0, data address */
#define MARK_REG 0x4A    /* GPIOR1 */
#define EXIT_REG 0x4B    /* GPIOR2 */

static avr_cycle_count_t region_start, last_output;
static int in_region;
static uint16_t region_sp, region_min_sp, min_sp;
static uint8_t exit_status;
static int last_char = '\n';
static int uart_ready;
static unsigned long output_lines;

/* ------------------------------------------------------------------ --uart-pty: a serial port */
#define UCSR0A 0xC0
#define UBRR0L 0xC4
#define UBRR0H 0xC5
static int pty_fd = -1;
static volatile sig_atomic_t stop_requested;
static unsigned char pty_in[4096];
static size_t pty_in_len, pty_in_pos;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }

static int pty_open(void) {
  int fd = posix_openpt(O_RDWR | O_NOCTTY);
  if (fd < 0 || grantpt(fd) || unlockpt(fd)) return -1;
  const char *name = ptsname(fd);
  int slave = name ? open(name, O_RDWR | O_NOCTTY) : -1; /* kept open: the port outlives each host */
  struct termios t;
  if (slave < 0 || tcgetattr(slave, &t)) return -1;
  cfmakeraw(&t); /* no echo, no line editing: bytes travel as on a wire */
  tcsetattr(slave, TCSANOW, &t);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  printf("@PTY %s\n", name);
  fflush(stdout);
  return fd;
}

static double host_baud(void) {
  static const struct { speed_t code; double baud; } speeds[] = {
    {B1200, 1200}, {B2400, 2400}, {B4800, 4800}, {B9600, 9600}, {B19200, 19200}, {B38400, 38400},
    {B57600, 57600}, {B115200, 115200}, {B230400, 230400}, {B460800, 460800}, {B921600, 921600}};
  struct termios t;
  if (tcgetattr(pty_fd, &t)) return 0;
  speed_t code = cfgetospeed(&t);
  for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
    if (speeds[i].code == code) return speeds[i].baud;
  return 0;
}

static int baud_matches(avr_t *avr) {
  unsigned ubrr = avr->data[UBRR0L] | ((avr->data[UBRR0H] & 0x0F) << 8);
  double board = (double)avr->frequency / ((avr->data[UCSR0A] & 0x02 ? 8.0 : 16.0) * (ubrr + 1));
  double host = host_baud();
  return host > 0 && host > 0.95 * board && host < 1.05 * board;
}

/* what a receiver sampling at the wrong rate makes of a byte: deterministic, never plain text */
static uint8_t garble(uint8_t v) { return (uint8_t)((v * 151u + 89u) | 0x80u); }

static void pty_send(avr_t *avr, uint8_t v) {
  uint8_t b = baud_matches(avr) ? v : garble(v);
  if (write(pty_fd, &b, 1) < 0) { /* no host reading and the buffer full: the byte is lost */ }
}

static double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* After each instruction: a waiting host byte goes into UART0 when it can take one; about every 1024
 * cycles with nothing waiting, the port is read, waiting while simulated time is ahead of the wall clock
 * (the board runs at its own clock's pace, and the harness sleeps instead of spinning). */
static void pty_pump(avr_t *avr, avr_irq_t *uart_rx) {
  if (pty_in_pos < pty_in_len) {
    if (uart_ready) {
      uint8_t v = pty_in[pty_in_pos++];
      avr_raise_irq(uart_rx, baud_matches(avr) ? v : garble(v));
    }
    return;
  }
  if ((avr->cycle & 0x3FF) >= 4) return;
  static double wall_start = -1;
  if (wall_start < 0) wall_start = wall_ms();
  double ahead = avr->cycle * 1e3 / avr->frequency - (wall_ms() - wall_start);
  struct pollfd pfd = {pty_fd, POLLIN, 0};
  pty_in_pos = pty_in_len = 0;
  if (poll(&pfd, 1, ahead > 1 ? (int)ahead : 0) > 0 && (pfd.revents & POLLIN)) {
    ssize_t n = read(pty_fd, pty_in, sizeof pty_in);
    if (n > 0) pty_in_len = (size_t)n;
  }
}

static uint16_t sp_of(avr_t *avr) { return avr->data[R_SPL] | (avr->data[R_SPH] << 8); }

static void console_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *p) {
  (void)p;
  avr->data[addr] = v;
  putchar(v);
  last_char = v;
  if (v == '\n') output_lines++;
  last_output = avr->cycle;
}

static void mark_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *p) {
  (void)p;
  avr->data[addr] = v;
  if (v == 1) {
    region_start = avr->cycle;
    region_sp = region_min_sp = sp_of(avr);
    in_region = 1;
  } else if (v == 2 && in_region) {
    if (last_char != '\n') putchar('\n');
    last_char = '\n';
    printf("@REGION %llu %u\n", (unsigned long long)(avr->cycle - region_start),
           (unsigned)(region_sp - region_min_sp));
    if (pty_fd >= 0) fflush(stdout);
    in_region = 0;
  } else if (v >= 3 && in_region) {
    if (last_char != '\n') putchar('\n');
    last_char = '\n';
    printf("@MARK %u %llu\n", (unsigned)v, (unsigned long long)(avr->cycle - region_start));
  }
}

static void exit_write(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *p) {
  (void)p;
  avr->data[addr] = v;
  exit_status = v;
}

static void uart_out_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  avr_t *avr = param;
  last_output = avr->cycle;
  if (pty_fd >= 0) {
    pty_send(avr, (uint8_t)value);
    return;
  }
  putchar((int)(value & 0xFF));
  last_char = (int)(value & 0xFF);
  if (last_char == '\n') output_lines++;
}
static void uart_xon_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq; (void)value; (void)param;
  uart_ready = 1;
}
static void uart_xoff_hook(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq; (void)value; (void)param;
  uart_ready = 0;
}

static int usage(const char *prog) {
  fprintf(stderr, "usage: %s prog.elf [--max-cycles N] [--mcu NAME] [--freq HZ] [--uart-in FILE] "
                  "[--idle-cycles N] [--uart-lines] [--uart-wait-lines N] [--uart-start-cycles N] [--uart-pty]\n", prog);
  return 2;
}

int main(int argc, char **argv) {
  const char *elf = NULL, *mcu = NULL, *uart_in = NULL;
  unsigned long long max_cycles = 100000000ULL, idle_cycles = 0, freq = 0, start_cycles = 0;
  int lines_mode = 0, pty_mode = 0;
  unsigned long wait_lines = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--max-cycles") && i + 1 < argc) max_cycles = strtoull(argv[++i], 0, 0);
    else if (!strcmp(argv[i], "--mcu") && i + 1 < argc) mcu = argv[++i];
    else if (!strcmp(argv[i], "--freq") && i + 1 < argc) freq = strtoull(argv[++i], 0, 0);
    else if (!strcmp(argv[i], "--uart-in") && i + 1 < argc) uart_in = argv[++i];
    else if (!strcmp(argv[i], "--idle-cycles") && i + 1 < argc) idle_cycles = strtoull(argv[++i], 0, 0);
    else if (!strcmp(argv[i], "--uart-lines")) lines_mode = 1;
    else if (!strcmp(argv[i], "--uart-pty")) pty_mode = 1;
    else if (!strcmp(argv[i], "--uart-wait-lines") && i + 1 < argc) wait_lines = strtoul(argv[++i], 0, 0);
    else if (!strcmp(argv[i], "--uart-start-cycles") && i + 1 < argc) start_cycles = strtoull(argv[++i], 0, 0);
    else if (argv[i][0] != '-' && !elf) elf = argv[i];
    else return usage(argv[0]);
  }
  if (!elf) return usage(argv[0]);

  unsigned char *input = NULL;
  long input_len = 0, input_pos = 0;
  if (uart_in) {
    FILE *f = fopen(uart_in, "rb");
    if (!f) { fprintf(stderr, "avr_run: cannot read %s\n", uart_in); return 2; }
    fseek(f, 0, SEEK_END); input_len = ftell(f); fseek(f, 0, SEEK_SET);
    input = malloc(input_len ? input_len : 1);
    if (!input || fread(input, 1, input_len, f) != (size_t)input_len) { fclose(f); return 2; }
    fclose(f);
  }

  elf_firmware_t fw;
  memset(&fw, 0, sizeof fw);
  /* simavr's loader prints "Loaded ..." on stdout; keep stdout for the firmware's own output. */
  fflush(stdout);
  int saved_stdout = dup(1), devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, 1);
  int load_failed = elf_read_firmware(elf, &fw);
  fflush(stdout);
  dup2(saved_stdout, 1);
  close(devnull);
  close(saved_stdout);
  if (load_failed) { fprintf(stderr, "avr_run: cannot read %s\n", elf); return 2; }
  /* --gc-sections drops the .mmcu section, so the MCU and clock may come from the command line. */
  if (mcu) snprintf(fw.mmcu, sizeof fw.mmcu, "%s", mcu);
  if (!fw.mmcu[0]) strcpy(fw.mmcu, "atmega328p");
  if (freq) fw.frequency = freq;
  if (!fw.frequency) fw.frequency = 16000000;
  avr_t *avr = avr_make_mcu_by_name(fw.mmcu);
  if (!avr) { fprintf(stderr, "avr_run: unknown mcu %s\n", fw.mmcu); return 2; }
  avr_init(avr);
  avr->log = LOG_ERROR;
  avr_load_firmware(avr, &fw);
  avr->gdb_port = 0; /* never open a debugger port on a crash */

  avr_register_io_write(avr, CONSOLE_REG, console_write, NULL);
  avr_register_io_write(avr, MARK_REG, mark_write, NULL);
  avr_register_io_write(avr, EXIT_REG, exit_write, NULL);

  uint32_t flags = 0;
  avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
  flags &= ~AVR_UART_FLAG_STDIO; /* we print the raw bytes ourselves */
  avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                          uart_out_hook, avr);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
                          uart_xon_hook, avr);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
                          uart_xoff_hook, avr);
  avr_irq_t *uart_rx = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
  if (pty_mode) {
    if ((pty_fd = pty_open()) < 0) { fprintf(stderr, "avr_run: cannot open a pseudo-terminal\n"); return 2; }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
  }

  min_sp = sp_of(avr);
  int state = cpu_Running;
  const char *end = "cycle-limit";
  while (avr->cycle < max_cycles) {
    state = avr_run(avr); /* one instruction (or one sleep interval) */
    uint16_t sp = sp_of(avr);
    if (sp < min_sp && sp > 0) min_sp = sp;
    if (in_region && sp < region_min_sp) region_min_sp = sp;
    if (state == cpu_Done) { end = "done"; break; }
    if (state == cpu_Crashed) { end = "crashed"; break; }
    if (pty_fd >= 0) {
      if (stop_requested) { end = "idle"; break; }
      pty_pump(avr, uart_rx);
      continue;
    }
    if (input_pos < input_len && uart_ready && avr->cycle >= start_cycles && output_lines >= wait_lines) {
      uint8_t byte = input[input_pos++];
      avr_raise_irq(uart_rx, byte);
      if (lines_mode && byte == '\n') wait_lines = output_lines + 1; /* wait for the answer */
    }
    /* idle: all input read (or, exchanging lines, an answer that never came) and a quiet firmware */
    if (idle_cycles && (input_pos >= input_len || lines_mode) && avr->cycle > start_cycles &&
        avr->cycle - last_output > idle_cycles) {
      end = "idle";
      break;
    }
  }
  fflush(stdout);
  if (last_char != '\n') putchar('\n');
  printf("@END state=%s exit=%u cycles=%llu max_stack=%u\n", end, exit_status,
         (unsigned long long)avr->cycle, (unsigned)(avr->ramend - min_sp));
  fflush(stdout);
  if (!strcmp(end, "crashed")) return 3;
  if (!strcmp(end, "cycle-limit")) return 4;
  return exit_status;
}
