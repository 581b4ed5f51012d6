/* lunarsite firmware core: CRC-16/CCITT-FALSE, COBS and a bounded stream decoder.
 * Portable C99: no dynamic allocation, no blocking, no global state. See PROTOCOL.md. */
#ifndef LS_CODEC_H
#define LS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Constant tables and text live in flash on AVR (its flash is not in the data address
 * space): declare them LS_PROGMEM and read them through these macros. Elsewhere they
 * are ordinary const data. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define LS_PROGMEM PROGMEM
#define LS_READ_U8(p) pgm_read_byte(p)
#define LS_READ_F32(p) pgm_read_float(p)
#else
#define LS_PROGMEM
#define LS_READ_U8(p) (*(const uint8_t *)(p))
#define LS_READ_F32(p) (*(const float *)(p))
#endif

/* Frame sizes (PROTOCOL.md section 2): at most 64 bytes on the wire with the delimiter. */
#define LS_MAX_WIRE 64u
#define LS_MAX_ENCODED (LS_MAX_WIRE - 1u)
#define LS_MAX_DECODED (LS_MAX_ENCODED - 1u)

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0; check value of
 * "123456789" is 0x29B1 (CRC RevEng catalogue, CRC-16/IBM-3740). */
uint16_t ls_crc16(const uint8_t *data, size_t len);

/* FNV-1a 32-bit hash (offset basis 2166136261, prime 16777619). */
uint32_t ls_fnv1a32(const uint8_t *data, size_t len);

/* COBS-encode len bytes into out (no delimiter). Returns the encoded length, or 0 if it
 * would not fit in cap bytes. */
size_t ls_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Decode one COBS frame (without delimiter) into out. Returns the decoded length, or -1
 * if the input is not valid COBS or does not fit in cap. */
int ls_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Stream decoder: accumulates bytes up to the next 0x00. A frame longer than
 * LS_MAX_ENCODED is discarded up to the next delimiter and never delivered. */
typedef struct {
    uint8_t buf[LS_MAX_ENCODED];
    uint8_t len;
    uint8_t discarding;
    uint16_t overflows;
    uint16_t framing_errors;
} ls_decoder_t;

void ls_decoder_init(ls_decoder_t *d);

/* Push one byte. Returns the decoded frame length (> 0) with the frame in out
 * (cap >= LS_MAX_DECODED) when the byte completed a valid COBS frame, else 0. */
int ls_decoder_push(ls_decoder_t *d, uint8_t byte, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
