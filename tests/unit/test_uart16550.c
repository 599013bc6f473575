/* The 16550A at 0x3F8 (output captured in a memory stream) and a second
 * one at 0x2F8 reading a pipe: registers, loopback, FIFO, interrupts. */
#define _GNU_SOURCE
#include "device_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define COM1 0x3F8
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static struct dev_fixture fx;
static struct machine *m;

static void setup(void) { m = dev_machine(&fx, 1); }
static void teardown(void) { dev_free(&fx); }

TestSuite(uart16550, .init = setup, .fini = teardown);

static void put(uint16_t reg, uint8_t v) { outb(m, (uint16_t)(COM1 + reg), v); }
static uint8_t get(uint16_t reg) { return inb(m, (uint16_t)(COM1 + reg)); }

static const char *serial_text(void)
{
    fflush(fx.serial);
    return fx.serial_buf;
}

Test(uart16550, output_reaches_the_stream)
{
    const char *msg = "hello, popek\r\n";
    for (const char *p = msg; *p; p++)
        put(THR, (uint8_t)*p);
    cr_assert_str_eq(serial_text(), msg);
}

Test(uart16550, output_is_flushed_at_line_ends_and_polls)
{
    put(THR, 'a');
    put(THR, '\n');
    cr_assert_eq(fx.serial_len, 2); /* a memory stream's size moves on flush */
    put(THR, 'b');
    cr_assert_eq(fx.serial_len, 2);
    uart16550_poll(m->uart);
    cr_assert_eq(fx.serial_len, 3);
}

Test(uart16550, lsr_reports_an_idle_transmitter)
{
    cr_assert_eq(get(LSR), 0x60);
    put(THR, 'x');
    cr_assert_eq(get(LSR), 0x60);
}

Test(uart16550, divisor_latch_shadows_data_and_ier)
{
    put(IER, 0x05);
    put(LCR, 0x83);
    put(0, 0x01);
    put(1, 0x00);
    cr_assert_eq(get(0), 0x01);
    cr_assert_eq(get(1), 0x00);
    cr_assert_eq(get(LCR), 0x83);
    put(LCR, 0x03);
    cr_assert_eq(get(IER), 0x05);
    put(THR, 'A');
    cr_assert_str_eq(serial_text(), "A");
}

Test(uart16550, ier_keeps_four_bits_and_scratch_keeps_eight)
{
    put(IER, 0xFF);
    cr_assert_eq(get(IER), 0x0F);
    put(SCR, 0xA5);
    cr_assert_eq(get(SCR), 0xA5);
    put(MCR, 0xFF);
    cr_assert_eq(get(MCR), 0x1F);
}

Test(uart16550, linux_autoconfig_loopback_check)
{
    /* serial8250 autoconfig: MCR = LOOP | 0x0A reads MSR 0x90. */
    put(MCR, 0x10 | 0x0A);
    cr_assert_eq(get(MSR) & 0xF0, 0x90);
    put(MCR, 0x10 | 0x05);
    cr_assert_eq(get(MSR) & 0xF0, 0x60);
}

Test(uart16550, msr_records_modem_line_changes)
{
    cr_assert_eq(get(MSR), 0xB0); /* CTS, DSR, DCD of a connected line */
    put(MCR, 0x10); /* loopback, all outputs off */
    cr_assert_eq(get(MSR), 0x0B); /* CTS, DSR, DCD dropped */
    cr_assert_eq(get(MSR), 0x00); /* deltas clear on read */
    put(MCR, 0x14); /* OUT1 -> RI */
    cr_assert_eq(get(MSR), 0x40);
    put(MCR, 0x10);
    cr_assert_eq(get(MSR), 0x04); /* trailing edge of RI */
}

Test(uart16550, loopback_receives_what_it_sends)
{
    put(MCR, 0x10);
    put(THR, 'Z');
    cr_assert_eq(get(LSR) & 0x01, 0x01);
    cr_assert_eq(get(THR), 'Z');
    cr_assert_eq(get(LSR) & 0x01, 0x00);
    fflush(fx.serial);
    cr_assert_eq(fx.serial_len, 0);
}

Test(uart16550, fifo_mode_is_16550a)
{
    cr_assert_eq(get(IIR), 0x01);
    put(FCR, 0x01);
    cr_assert_eq(get(IIR) >> 6, 3);
    /* The FIFO holds 16 bytes; the 17th overruns. */
    put(MCR, 0x10);
    for (int i = 0; i < 17; i++)
        put(THR, (uint8_t)('a' + i));
    cr_assert_eq(get(LSR) & 0x03, 0x03);
    cr_assert_eq(get(LSR) & 0x02, 0x00);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(get(THR), 'a' + i);
    cr_assert_eq(get(LSR) & 0x01, 0);
    put(THR, 'x');
    put(FCR, 0x00); /* leaving FIFO mode empties the FIFO */
    cr_assert_eq(get(IIR), 0x01);
    cr_assert_eq(get(LSR) & 0x01, 0);
}

Test(uart16550, without_fifo_the_second_byte_overruns)
{
    put(MCR, 0x10);
    put(THR, '1');
    put(THR, '2');
    cr_assert_eq(get(LSR) & 0x03, 0x03);
    cr_assert_eq(get(THR), '1');
}

Test(uart16550, fifo_clear_empties_the_receiver)
{
    put(FCR, 0x01);
    put(MCR, 0x10);
    put(THR, 'q');
    put(FCR, 0x03);
    cr_assert_eq(get(LSR) & 0x01, 0);
}

Test(uart16550, thre_interrupt_on_irq4)
{
    pic_init_linux(m, 0xEF, 0xFF);
    cr_assert_not(mach_intr_pending(m));
    put(IER, 0x02);
    cr_assert_eq(get(IIR), 0x02); /* reading IIR clears THRE... */
    cr_assert_eq(get(IIR), 0x01);
    cr_assert(mach_intr_pending(m)); /* ...but the edge was latched */
    cr_assert_eq(mach_intr_ack(m), 0x34);
    outb(m, 0x20, 0x20);
    /* Writing THR refills it and raises THRE again with a fresh edge. */
    put(THR, '.');
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(get(IIR), 0x02);
}

Test(uart16550, linux_thre_test_sees_the_interrupt_again)
{
    /* serial8250_startup's UART_BUG_THRE test. */
    put(IER, 0x02);
    uint8_t iir1 = get(IIR);
    put(IER, 0x00);
    put(IER, 0x02);
    uint8_t iir = get(IIR);
    put(IER, 0x00);
    cr_assert_eq(iir1 & 0x01, 0);
    cr_assert_eq(iir & 0x01, 0);
}

Test(uart16550, receive_interrupt_and_priority)
{
    pic_init_linux(m, 0xEF, 0xFF);
    put(MCR, 0x10);
    put(IER, 0x03);
    put(THR, 'r');
    /* Received data outranks THRE. */
    cr_assert_eq(get(IIR), 0x04);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(get(THR), 'r');
    cr_assert_eq(get(IIR), 0x02);
    cr_assert_eq(get(IIR), 0x01);
}

Test(uart16550, line_status_interrupt_on_overrun)
{
    put(MCR, 0x10);
    put(IER, 0x05);
    put(THR, '1');
    put(THR, '2');
    cr_assert_eq(get(IIR), 0x06);
    cr_assert_eq(get(LSR) & 0x02, 0x02);
    cr_assert_eq(get(IIR), 0x04);
}

Test(uart16550, modem_status_interrupt)
{
    put(IER, 0x08);
    put(MCR, 0x10);
    cr_assert_eq(get(IIR), 0x00);
    get(MSR);
    cr_assert_eq(get(IIR), 0x01);
}

Test(uart16550, fifo_trigger_level_and_character_timeout)
{
    pic_init_linux(m, 0xEF, 0xFF);
    put(LCR, 0x83);
    put(0, 1); /* 115200 baud: four characters take 347 us */
    put(1, 0);
    put(LCR, 0x03);
    put(FCR, 0x41); /* FIFO on, trigger at 4 bytes */
    put(MCR, 0x10);
    put(IER, 0x01);
    put(THR, 'a');
    put(THR, 'b');
    uart16550_poll(m->uart);
    cr_assert_eq(get(IIR), 0xC1);
    uint64_t wake = uart16550_next_event_ns(m->uart, mach_now_ns());
    cr_assert(wake > 0 && wake <= 347222, "wake in %llu ns", (unsigned long long)wake);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    uart16550_poll(m->uart);
    cr_assert_eq(get(IIR), 0xCC);
    cr_assert_eq(uart16550_next_event_ns(m->uart, mach_now_ns()), UINT64_MAX);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(get(THR), 'a');
    cr_assert_eq(get(IIR), 0xC1); /* the read restarted the timer */
    put(THR, 'c');
    put(THR, 'd');
    put(THR, 'e');
    cr_assert_eq(get(IIR), 0xC4);
}

Test(uart16550, input_from_a_pipe)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct mach_err err = {{0}};
    struct uart16550 *com2 = uart16550_create(m, 0x2F8, 3, fx.serial, fds[0], &err);
    cr_assert(com2, "%s", err.msg);
    pic_init_linux(m, 0xF7, 0xFF);
    outb(m, 0x2F9, 0x01);
    cr_assert_eq(uart16550_input_fd(com2), fds[0]);
    cr_assert_eq(write(fds[1], "hi", 2), 2);
    uart16550_poll(com2);
    /* Without the FIFO one byte at a time: the rest waits in the pipe. */
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(inb(m, 0x2FA), 0x04);
    cr_assert_eq(inb(m, 0x2F8), 'h');
    cr_assert_eq(inb(m, 0x2FD) & 0x01, 0);
    uart16550_poll(com2);
    cr_assert_eq(inb(m, 0x2F8), 'i');
    close(fds[1]);
    uart16550_poll(com2);
    cr_assert_eq(uart16550_input_fd(com2), -1); /* end of input */
    cr_assert_eq(inb(m, 0x2FD) & 0x01, 0);
    uart16550_destroy(com2);
    close(fds[0]);
}

Test(uart16550, loopback_cuts_the_line_input)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct mach_err err = {{0}};
    struct uart16550 *com2 = uart16550_create(m, 0x2F8, 3, fx.serial, fds[0], &err);
    cr_assert(com2, "%s", err.msg);
    outb(m, 0x2FC, 0x10);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    uart16550_poll(com2);
    cr_assert_eq(inb(m, 0x2FD) & 0x01, 0);
    outb(m, 0x2FC, 0x00);
    uart16550_poll(com2);
    cr_assert_eq(inb(m, 0x2F8), 'x');
    uart16550_destroy(com2);
    close(fds[0]);
    close(fds[1]);
}

/* ---- the host terminal ---- */

static int open_pty(int *master)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(*master >= 0);
    cr_assert_eq(grantpt(*master), 0);
    cr_assert_eq(unlockpt(*master), 0);
    int slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
    cr_assert(slave >= 0);
    return slave;
}

static bool cooked(int fd)
{
    struct termios t;
    cr_assert_eq(tcgetattr(fd, &t), 0);
    return (t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO) && (t.c_iflag & ICRNL);
}

Test(uart16550, a_terminal_is_raw_while_the_uart_lives)
{
    int master, tty = open_pty(&master);
    cr_assert(cooked(tty));
    struct mach_err err = {{0}};
    struct uart16550 *com2 = uart16550_create(m, 0x2F8, 3, NULL, tty, &err);
    cr_assert(com2, "%s", err.msg);
    cr_assert_not(cooked(tty));
    struct termios t;
    tcgetattr(tty, &t);
    cr_assert(t.c_lflag & ISIG, "^C must still reach the VMM");
    /* Raw input: a CR typed on the terminal arrives as CR. */
    cr_assert_eq(write(master, "\r", 1), 1);
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
    uart16550_poll(com2);
    cr_assert_eq(inb(m, 0x2F8), '\r');
    uart16550_destroy(com2);
    cr_assert(cooked(tty));
    close(tty);
    close(master);
}

/* Runs `how` in a child that owns the terminal and checks the terminal is
 * cooked again once the child is gone. */
static void child_dies(void (*how)(void), int expect_signal)
{
    int master, tty = open_pty(&master);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct mach_err err = {{0}};
        if (!uart16550_create(m, 0x2F8, 3, NULL, tty, &err) || cooked(tty))
            _exit(100);
        how();
        _exit(101);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (expect_signal) {
        cr_assert(WIFSIGNALED(status), "status 0x%x", status);
        cr_assert_eq(WTERMSIG(status), expect_signal);
    } else {
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    }
    cr_assert(cooked(tty));
    close(tty);
    close(master);
}

static void by_sigterm(void) { kill(getpid(), SIGTERM); }
static void by_sigint(void) { kill(getpid(), SIGINT); }
static void by_abort(void) { abort(); }
static void by_exit(void) { exit(0); }

Test(uart16550, the_terminal_survives_sigterm) { child_dies(by_sigterm, SIGTERM); }
Test(uart16550, the_terminal_survives_sigint) { child_dies(by_sigint, SIGINT); }
Test(uart16550, the_terminal_survives_abort) { child_dies(by_abort, SIGABRT); }
Test(uart16550, the_terminal_survives_exit_without_destroy) { child_dies(by_exit, 0); }

Test(uart16550, the_terminal_survives_a_crash)
{
    int master, tty = open_pty(&master);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* as in a plain process, not under ASan */
        struct mach_err err = {{0}};
        if (!uart16550_create(m, 0x2F8, 3, NULL, tty, &err))
            _exit(100);
        volatile int *guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *guard = 1; /* a real fault */
        _exit(101);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status 0x%x", status);
    cr_assert(cooked(tty));
    close(tty);
    close(master);
}
