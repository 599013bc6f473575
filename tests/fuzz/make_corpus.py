#!/usr/bin/env python3
"""Regenerates the seed corpora in corpus/ (small, hand-built images that
the loaders accept or almost accept, and code for the decoder).
Usage: python3 make_corpus.py [GUEST_ELF]  (GUEST_ELF: a built guest kernel,
e.g. build/tests/guests/hello.elf, whose code seeds the decoder corpus)."""
import os
import struct
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MB_MAGIC = 0x1BADB002


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def mb_header(flags, extra=b""):
    return struct.pack("<III", MB_MAGIC, flags, (-(MB_MAGIC + flags)) & 0xFFFFFFFF) + extra


def elf(entry, segs, size, mb_off, mb_flags=3, extra_ph=True):
    """segs: (offset, vaddr, paddr, filesz, memsz)."""
    phnum = len(segs) + (1 if extra_ph else 0)
    b = bytearray(size)
    b[0:16] = b"\x7fELF\x01\x01\x01" + bytes(9)
    b[16:52] = struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, 52, 0, 0, 52, 32, phnum, 0, 0, 0)
    for i, (off, va, pa, fs, ms) in enumerate(segs):
        b[52 + 32 * i:84 + 32 * i] = struct.pack("<IIIIIIII", 1, off, va, pa, fs, ms, 5, 0x1000)
    if extra_ph:
        i = len(segs)
        b[52 + 32 * i:84 + 32 * i] = struct.pack("<IIIIIIII", 0x6474E551, 0, 0, 0, 0, 0, 6, 16)
    h = mb_header(mb_flags)
    b[mb_off:mb_off + len(h)] = h
    # code after the header: out 0xf4 with 0, hlt
    code = bytes([0xB0, 0x00, 0xE6, 0xF4, 0xF4])
    b[mb_off + 16:mb_off + 16 + len(code)] = code
    return bytes(b)


def aout(flags, hdr_off, load, load_end, bss_end, entry, size, video=b""):
    b = bytearray((i * 7 + 1) & 0xFF for i in range(size))
    header_addr = load + hdr_off
    h = mb_header(flags, struct.pack("<IIIII", header_addr, load, load_end, bss_end, entry) + video)
    b[hdr_off:hdr_off + len(h)] = h
    return bytes(b)


def multiboot():
    put("multiboot", "elf_two_segments", elf(0x100010, [(0x100, 0x100000, 0x100000, 0x100, 0x100),
                                                       (0x200, 0x101000, 0x101000, 0x80, 0x1000)],
                                            0x280, 0x100))
    put("multiboot", "elf_higher_half", elf(0xC0100010, [(0x100, 0xC0100000, 0x100000, 0x100, 0x2000)],
                                           0x200, 0x100))
    put("multiboot", "elf_low_load", elf(0x2010, [(0x80, 0x2000, 0x2000, 0x80, 0x100)], 0x100, 0x80, 0))
    put("multiboot", "aout_bss", aout(0x10002, 0x40, 0x200000, 0x200180, 0x204000, 0x200100, 0x200))
    put("multiboot", "aout_whole_file", aout(0x10000, 0x20, 0x100000, 0, 0, 0x100060, 0x100))
    put("multiboot", "aout_video", aout(0x10007, 0x10, 0x110000, 0, 0x120000, 0x110040, 0x100,
                                        struct.pack("<IIII", 0, 80, 25, 0)))


def rom():
    code = bytes([0xEA, 0x00, 0x00, 0x00, 0xF0]) + bytes(11)  # jmp far f000:0000
    put("rom", "reset_jump", b"\x01" + struct.pack("<IHBB", 0xFFFFFFF0, 0, 0, 0) + code)
    put("rom", "probe_alias", b"\x01" + struct.pack("<IHBB", 0xF0000, 0, 0, 0) + bytes(range(64)))
    put("rom", "unpadded", b"\x00" + struct.pack("<IHBB", 0xFFFF0000, 0, 0, 0) + bytes(100))


def raw():
    code = bytes([0xB0, 0x00, 0xE6, 0xF4, 0xF4])
    put("raw", "flat32", struct.pack("<IIB", 0x10000, 0x10000, 0) + code)
    put("raw", "real_bootsector", struct.pack("<IIB", 0x7C00, 0x7C00, 1) + code + bytes(507) + b"\x55\xaa")
    put("raw", "real_with_rom", struct.pack("<IIB", 0xEFF00, 0xEFF00, 9) + code)
    put("raw", "ram_end", struct.pack("<IIB", 0x1FFFF0, 0x1FFFF0, 2) + bytes(16))


def decoder(guest):
    samples = {
        "mixed32": bytes.fromhex("8b448b08 0f20c0 0f22d8 0f0115 00070000 ea00000100 0800 cd80 cf"
                                 "66 ed f3a5 f0 0fb10b 0f01f8 c4e27d18 00 62f17c48 2800 8f e8 78 c2 c0 01"),
        "mixed16": bytes.fromhex("b80010 8ed8 8b07 e80000 ea0000 00f0 66 0f01 16 0070 0f20c0 cd10 cf"
                                 "67 668b0400 26 f2ae 9a 3412 7856 0f0b"),
        "prefixes": bytes.fromhex("f0f2f3 2e363e2664656667 f0f2f3 2e363e2664656667 90"
                                  "0f0f c0 b4 d9f0 dbe3 0f1efb 0f01d0"),
    }
    for name, code in samples.items():
        put("decoder", name, bytes([0, 40]) + code)
    put("decoder", "features_all", bytes([0x1F, 7]) + bytes.fromhex("f30fbdc1 f30fbcc1 0f1a00 0f1efb 0f1c00 f20fe8"))
    if guest:
        with open(guest, "rb") as f:
            data = f.read()
        (phoff,) = struct.unpack_from("<I", data, 28)
        (off, va, pa, fs) = struct.unpack_from("<IIII", data, phoff + 4)
        text = data[off:off + fs]
        put("decoder", "guest_text", bytes([0, 63]) + text[0x40:0x40 + 512])


multiboot()
rom()
raw()
decoder(sys.argv[1] if len(sys.argv) > 1 else None)
