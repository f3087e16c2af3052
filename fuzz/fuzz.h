/* fuzz.h: what every harness includes.  A harness is one
 * LLVMFuzzerTestOneInput() over one libcore parser; libFuzzer calls it
 * (make fuzz), and so does driver.c on saved inputs (make test). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "catch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
