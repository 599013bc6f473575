/* A 16550A UART. Transmission is immediate (THR and the shift register are
 * always empty again by the next access), so output goes straight to a
 * FILE*; input comes from an fd read without blocking when the machine
 * polls. A terminal used for input is switched to raw mode and always put
 * back: at destroy, at exit, and on the signals that end the process.
 * References: National Semiconductor PC16550D datasheet (registers, FIFO
 * mode, interrupt priorities, loopback), and Linux's 8250 driver for what
 * a guest probes (serial8250 autoconfig, the THRE interrupt test). */
#define _GNU_SOURCE
#include "machine/machine_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

enum {
    REG_DATA = 0, /* RBR / THR, DLL with DLAB */
    REG_IER = 1,  /* DLM with DLAB */
    REG_IIR = 2,  /* IIR on read, FCR on write */
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_RDI 0x01   /* received data available (and character timeout) */
#define IER_THRI 0x02  /* THR empty */
#define IER_RLSI 0x04  /* receiver line status */
#define IER_MSI 0x08   /* modem status */
#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0C
#define IIR_FIFO 0xC0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_ERRORS 0x1E /* OE, PE, FE, BI */
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DELTAS 0x0F
#define MSR_TERI 0x04
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

_Static_assert(LSR_THRE == 1 << 5 && LSR_TEMT == 1 << 6, "16550 LSR layout");
_Static_assert(MSR_CTS == MCR_RTS << 3 && MSR_DCD == MCR_OUT2 << 4,
               "16550 loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD");

#define FIFO_SIZE 16
#define UART_CLOCK_HZ 115200ull /* 1.8432 MHz / 16 */

struct uart16550 {
    struct machine *m;
    unsigned irq;
    FILE *out;
    int in_fd;
    bool owns_terminal;

    uint8_t rx[FIFO_SIZE];
    unsigned rx_head, rx_count;
    uint8_t last_rx;
    uint64_t rx_timer_ns; /* last receive or RBR read: the character timeout */

    uint8_t ier, lcr, mcr, msr, scr, dll, dlm;
    uint8_t lsr_errors;
    bool fifo, thre_pending, timeout_pending, irq_level;
    unsigned trigger;
};

/* ---- the host terminal ----
 * A process-wide resource: one UART at a time owns it, and its saved state
 * must be reachable from signal handlers and atexit. */

static const int term_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT,
                                   SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGCONT};

static struct {
    volatile sig_atomic_t owned, raw;
    int fd;
    struct termios saved, raw_mode;
    struct sigaction old[NSIG];
    bool atexit_registered;
} term;

/* Async-signal-safe: tcsetattr is on POSIX's list. */
static void term_restore(void)
{
    if (term.raw) {
        tcsetattr(term.fd, TCSANOW, &term.saved);
        term.raw = 0;
    }
}

static void term_chain(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *old = &term.old[sig];
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction)
            old->sa_sigaction(sig, info, uctx);
    } else if (old->sa_handler == SIG_DFL) {
        if (sig == SIGCONT)
            return;
        /* Die of the signal as if we had never handled it. */
        sigaction(sig, old, NULL);
        raise(sig);
    } else if (old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    }
}

static void term_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    if (sig == SIGCONT) {
        /* Back from a stop: the shell gave us its own terminal modes. */
        if (term.owned && !term.raw) {
            tcsetattr(term.fd, TCSANOW, &term.raw_mode);
            term.raw = 1;
        }
    } else {
        term_restore();
    }
    term_chain(sig, info, uctx);
    errno = saved_errno;
}

static void term_atexit(void) { term_restore(); }

/* Raw input as QEMU's -serial stdio sets it: no echo, no line editing, no
 * CR/NL translation on input; output processing and ISIG stay, so ^C still
 * stops the VMM and "\n" from a guest still starts a new line. */
static bool term_take(int fd)
{
    if (term.owned || !isatty(fd) || tcgetattr(fd, &term.saved) < 0)
        return false;
    struct termios t = term.saved;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    term.raw_mode = t;
    term.fd = fd;
    if (!term.atexit_registered)
        term.atexit_registered = atexit(term_atexit) == 0;
    /* SA_ONSTACK: the bt engine runs guest code on a small stack of its
     * own and gives signals an alternate one (translator/bt_ras.c). */
    struct sigaction sa = {.sa_sigaction = term_signal,
                           .sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]); i++)
        sigaction(term_signals[i], &sa, &term.old[term_signals[i]]);
    term.owned = 1;
    if (tcsetattr(fd, TCSANOW, &t) == 0)
        term.raw = 1;
    return true;
}

static void term_release(void)
{
    term_restore();
    term.owned = 0;
    /* Put back the old handlers unless someone installed their own since. */
    for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]); i++) {
        struct sigaction cur;
        int sig = term_signals[i];
        if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == term_signal)
            sigaction(sig, &term.old[sig], NULL);
    }
}

/* ---- the UART ---- */

static unsigned rx_capacity(const struct uart16550 *u) { return u->fifo ? FIFO_SIZE : 1; }

/* The interrupt identification, in the 16550's priority order. */
static uint8_t pending_iir(const struct uart16550 *u)
{
    if ((u->ier & IER_RLSI) && u->lsr_errors)
        return IIR_RLSI;
    if ((u->ier & IER_RDI) && u->rx_count >= (u->fifo ? u->trigger : 1))
        return IIR_RDI;
    if ((u->ier & IER_RDI) && u->timeout_pending && u->rx_count)
        return IIR_TIMEOUT;
    if ((u->ier & IER_THRI) && u->thre_pending)
        return IIR_THRI;
    if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NO_INT;
}

/* The INTRPT pin follows the pending interrupt. (On a PC, MCR.OUT2 gates
 * it onto the bus; like QEMU we do not gate, so guests written against
 * QEMU that never set OUT2 still get interrupts. Linux sets OUT2.) */
static void update_irq(struct uart16550 *u)
{
    bool level = pending_iir(u) != IIR_NO_INT;
    if (level != u->irq_level) {
        u->irq_level = level;
        mach_irq_set(u->m, u->irq, level);
    }
}

static void rx_clear(struct uart16550 *u)
{
    u->rx_count = 0;
    u->rx_head = 0;
    u->timeout_pending = false;
}

static void rx_push(struct uart16550 *u, uint8_t byte)
{
    if (u->rx_count == rx_capacity(u)) {
        u->lsr_errors |= LSR_OE; /* the byte in the shift register is lost */
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % FIFO_SIZE] = byte;
    u->rx_count++;
    u->rx_timer_ns = mach_now_ns();
    u->timeout_pending = false;
}

static uint8_t rx_pop(struct uart16550 *u)
{
    if (u->rx_count) {
        u->last_rx = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % FIFO_SIZE;
        u->rx_count--;
    }
    u->rx_timer_ns = mach_now_ns();
    u->timeout_pending = false;
    return u->last_rx;
}

/* MSR bits 7-4 are the modem inputs: in loopback the MCR outputs, else a
 * connected line (CTS, DSR, DCD asserted). Bits 3-0 record changes. */
static void update_modem_inputs(struct uart16550 *u)
{
    uint8_t in;
    if (u->mcr & MCR_LOOP)
        in = (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) | ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
                       ((u->mcr & MCR_OUT1) ? MSR_RI : 0) | ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
    else
        in = MSR_CTS | MSR_DSR | MSR_DCD;
    uint8_t changed = (uint8_t)((u->msr ^ in) & 0xF0), delta = 0;
    if (changed & MSR_CTS)
        delta |= 0x01;
    if (changed & MSR_DSR)
        delta |= 0x02;
    if ((u->msr & MSR_RI) && !(in & MSR_RI))
        delta |= MSR_TERI; /* trailing edge of RI only */
    if (changed & MSR_DCD)
        delta |= 0x08;
    u->msr = (uint8_t)(in | ((u->msr | delta) & MSR_DELTAS));
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
    /* Writing THR clears the THRE interrupt; the byte leaves at once and
     * THR is empty again, so the interrupt returns with a fresh edge. */
    u->thre_pending = false;
    update_irq(u);
    if (u->mcr & MCR_LOOP) {
        rx_push(u, byte);
    } else if (u->out) {
        fputc(byte, u->out);
        if (byte == '\n')
            fflush(u->out);
    }
    u->thre_pending = true;
}

static void write_fcr(struct uart16550 *u, uint8_t val)
{
    static const unsigned triggers[4] = {1, 4, 8, 14};
    bool enable = val & FCR_ENABLE;
    if (enable != u->fifo)
        rx_clear(u); /* changing the FIFO mode empties the FIFOs */
    u->fifo = enable;
    if (!enable)
        return;
    if (val & FCR_CLEAR_RX)
        rx_clear(u);
    u->trigger = triggers[val >> 6];
}

static void write_reg(struct uart16550 *u, unsigned reg, uint8_t val)
{
    bool dlab = u->lcr & LCR_DLAB;
    switch (reg) {
    case REG_DATA:
        if (dlab)
            u->dll = val;
        else
            transmit(u, val);
        break;
    case REG_IER:
        if (dlab) {
            u->dlm = val;
            break;
        }
        /* Enabling the THRE interrupt while THR is empty raises it (the
         * THRE test of Linux's 8250 driver relies on this). */
        if ((val & IER_THRI) && !(u->ier & IER_THRI))
            u->thre_pending = true;
        else if (!(val & IER_THRI))
            u->thre_pending = false;
        u->ier = val & 0x0F;
        break;
    case REG_IIR:
        write_fcr(u, val);
        break;
    case REG_LCR:
        u->lcr = val;
        break;
    case REG_MCR:
        u->mcr = val & 0x1F;
        update_modem_inputs(u);
        break;
    case REG_SCR:
        u->scr = val;
        break;
    default: /* LSR and MSR are read-only (writes are for factory test) */
        break;
    }
}

static uint8_t read_reg(struct uart16550 *u, unsigned reg)
{
    bool dlab = u->lcr & LCR_DLAB;
    uint8_t v;
    switch (reg) {
    case REG_DATA:
        return dlab ? u->dll : rx_pop(u);
    case REG_IER:
        return dlab ? u->dlm : u->ier;
    case REG_IIR:
        v = pending_iir(u);
        if (v == IIR_THRI)
            u->thre_pending = false; /* reading IIR clears a THRE interrupt */
        return (uint8_t)(v | (u->fifo ? IIR_FIFO : 0));
    case REG_LCR:
        return u->lcr;
    case REG_MCR:
        return u->mcr;
    case REG_LSR:
        v = (uint8_t)((u->rx_count ? LSR_DR : 0) | u->lsr_errors | LSR_THRE | LSR_TEMT);
        u->lsr_errors = 0;
        return v;
    case REG_MSR:
        v = u->msr;
        u->msr &= (uint8_t)~MSR_DELTAS;
        return v;
    default:
        return u->scr;
    }
}

static void uart_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    struct uart16550 *u = dev;
    if (is_write)
        write_reg(u, offset, *val);
    else
        *val = read_reg(u, offset);
    update_irq(u);
}

static void uart_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(uart_byte, dev, 8, offset, data, size, is_write);
}

/* Four character times at the programmed rate and frame (PC16550D, FIFO
 * interrupt mode: the character timeout). */
static uint64_t char_timeout_ns(const struct uart16550 *u)
{
    unsigned divisor = (unsigned)(u->dll | (u->dlm << 8));
    if (divisor == 0)
        divisor = 1;
    unsigned bits = 1 + 5 + (u->lcr & 3) + ((u->lcr & 0x08) ? 1 : 0) + ((u->lcr & 0x04) ? 2 : 1);
    return 4ull * bits * divisor * 1000000000ull / UART_CLOCK_HZ;
}

static void read_input(struct uart16550 *u)
{
    unsigned room = rx_capacity(u) - u->rx_count;
    struct pollfd pfd = {.fd = u->in_fd, .events = POLLIN};
    if (room == 0 || poll(&pfd, 1, 0) <= 0)
        return;
    uint8_t buf[FIFO_SIZE];
    ssize_t n = read(u->in_fd, buf, room);
    if (n == 0) {
        u->in_fd = -1; /* end of input: nothing more will come */
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        rx_push(u, buf[i]);
}

void uart16550_poll(struct uart16550 *u)
{
    if (u->out)
        fflush(u->out);
    /* In loopback the receiver is cut off from the line. */
    if (u->in_fd >= 0 && !(u->mcr & MCR_LOOP))
        read_input(u);
    if (u->fifo && u->rx_count && u->rx_count < u->trigger && !u->timeout_pending &&
        mach_now_ns() - u->rx_timer_ns >= char_timeout_ns(u))
        u->timeout_pending = true;
    update_irq(u);
}

int uart16550_input_fd(const struct uart16550 *u) { return u->in_fd; }

/* A halted guest waiting for input below the FIFO trigger level needs the
 * character timeout to wake it. */
uint64_t uart16550_next_event_ns(const struct uart16550 *u, uint64_t now_ns)
{
    if (!u->fifo || !(u->ier & IER_RDI) || !u->rx_count || u->rx_count >= u->trigger ||
        u->timeout_pending)
        return UINT64_MAX;
    uint64_t due = u->rx_timer_ns + char_timeout_ns(u);
    return due > now_ns ? due - now_ns : 0;
}

struct uart16550 *uart16550_create(struct machine *m, uint16_t base, unsigned irq,
                                   FILE *out, int in_fd, struct mach_err *err)
{
    struct uart16550 *u = calloc(1, sizeof(*u));
    if (!u) {
        mach_errf(err, "16550 at 0x%x: out of memory", base);
        return NULL;
    }
    u->m = m;
    u->irq = irq;
    u->out = out;
    u->in_fd = in_fd;
    u->trigger = 1;
    u->dll = 12; /* 9600 baud */
    u->lcr = 0x03; /* 8N1 */
    update_modem_inputs(u);
    u->msr &= (uint8_t)~MSR_DELTAS;
    if (mach_bus_register(m, MACH_BUS_PIO, base, 8, uart_io, u, "16550 UART", err) < 0) {
        free(u);
        return NULL;
    }
    u->owns_terminal = in_fd >= 0 && term_take(in_fd);
    return u;
}

void uart16550_destroy(struct uart16550 *u)
{
    if (u->out)
        fflush(u->out);
    if (u->owns_terminal)
        term_release();
    free(u);
}
