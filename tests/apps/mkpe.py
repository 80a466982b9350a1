#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write a minimal valid PE32+ (x86-64 console executable, one .text section
holding "xor eax, eax; ret") to argv[1], for Authenticode signing tests."""
import struct
import sys

FILE_ALIGN, SECT_ALIGN = 0x200, 0x1000
dos = bytearray(0x80)
dos[0:2] = b"MZ"
struct.pack_into("<I", dos, 0x3C, len(dos))  # e_lfanew
coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x0022)
opt = struct.pack(
    "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
    0x20B, 14, 0,                    # PE32+, linker version
    FILE_ALIGN, 0, 0,                # sizes of code / data / bss
    SECT_ALIGN, SECT_ALIGN,          # entry point, base of code
    0x140000000,                     # image base
    SECT_ALIGN, FILE_ALIGN,
    6, 0, 0, 0, 6, 0,                # OS, image, subsystem versions
    0,                               # Win32VersionValue
    2 * SECT_ALIGN, FILE_ALIGN,      # SizeOfImage, SizeOfHeaders
    0,                               # CheckSum (osslsigncode sets it)
    3, 0x8160,                       # console; NX, dynamic base, high entropy VA
    0x100000, 0x1000, 0x100000, 0x1000,
    0, 16)                           # loader flags, data directories
opt += bytes(16 * 8)
text = struct.pack("<8sIIIIIIHHI", b".text", 3, SECT_ALIGN, FILE_ALIGN, FILE_ALIGN,
                   0, 0, 0, 0, 0x60000020)
head = bytes(dos) + b"PE\0\0" + coff + opt + text
head += bytes(FILE_ALIGN - len(head))
code = b"\x31\xc0\xc3"
with open(sys.argv[1], "wb") as f:
    f.write(head + code + bytes(FILE_ALIGN - len(code)))
