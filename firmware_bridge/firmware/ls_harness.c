/* A thin C API over the firmware codec for host-side tests (loaded with ctypes). */
#include <string.h>

#include "ls_protocol.h"

/* Feed bytes through a fresh stream decoder and frame parser. Writes every frame that
 * passes all checks to out as [decoded length u8][decoded frame], and returns the number
 * of bytes written (frames that would not fit in cap are counted but not written). The
 * counts of overflows, framing and parse errors go to stats[0..2], frames to stats[3]. */
size_t lsh_feed(const uint8_t *in, size_t n, uint8_t *out, size_t cap, uint32_t stats[4])
{
    ls_decoder_t d;
    uint8_t dec[LS_MAX_DECODED];
    size_t i;
    size_t o = 0;
    uint32_t parse_errors = 0;
    uint32_t frames = 0;
    ls_decoder_init(&d);
    for (i = 0; i < n; ++i) {
        int k = ls_decoder_push(&d, in[i], dec, sizeof dec);
        ls_frame_t f;
        if (k <= 0) {
            continue;
        }
        if (ls_frame_parse(dec, (size_t)k, &f) != 0) {
            ++parse_errors;
            continue;
        }
        ++frames;
        if (o + 1u + (size_t)k <= cap) {
            out[o] = (uint8_t)k;
            memcpy(&out[o + 1u], dec, (size_t)k);
            o += 1u + (size_t)k;
        }
    }
    stats[0] = d.overflows;
    stats[1] = d.framing_errors;
    stats[2] = parse_errors;
    stats[3] = frames;
    return o;
}

const char *lsh_schema_text(void)
{
    return LS_SCHEMA_TEXT;
}

uint32_t lsh_schema_hash_constant(void)
{
    return LS_SCHEMA_HASH;
}

uint16_t lsh_crc16(const uint8_t *data, size_t n)
{
    return ls_crc16(data, n);
}

size_t lsh_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    return ls_cobs_encode(in, n, out, cap);
}

int lsh_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    return ls_cobs_decode(in, n, out, cap);
}

size_t lsh_frame_build(uint8_t type, uint8_t seq, const uint8_t *payload, uint8_t len,
                       uint8_t *out, size_t cap)
{
    return ls_frame_build(type, seq, payload, len, out, cap);
}

int lsh_payload_size(uint8_t type)
{
    return ls_payload_size(type);
}
