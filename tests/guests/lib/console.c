/* Serial console on the 16550A at 0x3F8 and a small printf. */
#include "guest.h"

#define COM1 0x3F8
/* 16550A registers and bits (National Semiconductor PC16550D datasheet). */
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20

void serial_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS); /* OUT2 clear: no interrupts */
}

static void putc_raw(char c)
{
    /* A missing UART reads 0xFF, which has THRE set: no hang. */
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_putc(char c)
{
    if (c == '\n')
        putc_raw('\r');
    putc_raw(c);
}

static void put_padded(const char *s, int len, int width, bool left, char pad)
{
    if (!left)
        for (int i = len; i < width; i++)
            serial_putc(pad);
    for (int i = 0; i < len; i++)
        serial_putc(s[i]);
    if (left)
        for (int i = len; i < width; i++)
            serial_putc(' ');
}

static int format_unsigned(char *buf, uint32_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

void kvprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        bool left = false;
        char pad = ' ';
        for (; *fmt == '-' || *fmt == '0'; fmt++) {
            if (*fmt == '-')
                left = true;
            else
                pad = '0';
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            fmt++;
        char buf[16];
        int len = 0;
        switch (*fmt) {
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            uint32_t mag = v < 0 ? -(uint32_t)v : (uint32_t)v;
            if (v < 0)
                buf[len++] = '-';
            len += format_unsigned(buf + len, mag, 10, false);
            break;
        }
        case 'u':
            len = format_unsigned(buf, va_arg(ap, uint32_t), 10, false);
            break;
        case 'x':
        case 'X':
            len = format_unsigned(buf, va_arg(ap, uint32_t), 16, *fmt == 'X');
            break;
        case 'p':
            buf[0] = '0';
            buf[1] = 'x';
            len = 2 + format_unsigned(buf + 2, (uint32_t)va_arg(ap, void *), 16, false);
            break;
        case 'c':
            buf[len++] = (char)va_arg(ap, int);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            put_padded(s, (int)strlen(s), width, left, ' ');
            continue;
        }
        case '%':
            buf[len++] = '%';
            break;
        case '\0':
            return;
        default:
            buf[len++] = '%';
            buf[len++] = *fmt;
            break;
        }
        if (pad == '0' && !left && len && buf[0] == '-') {
            serial_putc('-');
            put_padded(buf + 1, len - 1, width - 1, false, '0');
        } else {
            put_padded(buf, len, width, left, left ? ' ' : pad);
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}
