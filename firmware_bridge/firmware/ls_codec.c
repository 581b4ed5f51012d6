/* lunarsite firmware core: CRC-16/CCITT-FALSE, COBS, stream decoder. See ls_codec.h. */
#include "ls_codec.h"

uint16_t ls_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    for (i = 0; i < len; ++i) {
        uint8_t bit;
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8u; ++bit) {
            unsigned shifted = (unsigned)crc << 1;
            crc = (uint16_t)(((crc & 0x8000u) != 0u ? shifted ^ 0x1021u : shifted) & 0xFFFFu);
        }
    }
    return crc;
}

uint32_t ls_fnv1a32(const uint8_t *data, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < len; ++i) {
        h ^= data[i];
        h *= 16777619u;
    }
    return h;
}

size_t ls_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t code_at = 0;
    size_t o = 1;
    uint8_t code = 1;
    size_t i;
    if (cap == 0) {
        return 0;
    }
    for (i = 0; i < len; ++i) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
            if (o > cap) {
                return 0;
            }
        } else {
            if (o >= cap) {
                return 0;
            }
            out[o++] = in[i];
            ++code;
            if (code == 0xFFu) {
                out[code_at] = code;
                if (i + 1u == len) {
                    return o; /* a full block ends the data: no trailing empty block */
                }
                code_at = o++;
                code = 1;
                if (o > cap) {
                    return 0;
                }
            }
        }
    }
    out[code_at] = code;
    return o;
}

int ls_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0;
    size_t o = 0;
    if (len == 0) {
        return -1;
    }
    while (i < len) {
        uint8_t code = in[i];
        size_t end;
        size_t j;
        if (code == 0) {
            return -1;
        }
        end = i + code;
        if (end > len) {
            return -1;
        }
        for (j = i + 1; j < end; ++j) {
            if (in[j] == 0 || o >= cap) {
                return -1;
            }
            out[o++] = in[j];
        }
        i = end;
        if (code != 0xFFu && i < len) {
            if (o >= cap) {
                return -1;
            }
            out[o++] = 0;
        }
    }
    return (int)o;
}

void ls_decoder_init(ls_decoder_t *d)
{
    d->len = 0;
    d->discarding = 0;
    d->overflows = 0;
    d->framing_errors = 0;
}

int ls_decoder_push(ls_decoder_t *d, uint8_t byte, uint8_t *out, size_t cap)
{
    if (byte != 0) {
        if (d->discarding) {
            return 0;
        }
        if (d->len >= LS_MAX_ENCODED) {
            d->len = 0;
            d->discarding = 1;
            ++d->overflows;
            return 0;
        }
        d->buf[d->len++] = byte;
        return 0;
    }
    /* Delimiter: close the frame or the discarded run. */
    if (d->discarding || d->len == 0) {
        d->discarding = 0;
        d->len = 0;
        return 0;
    }
    {
        int n = ls_cobs_decode(d->buf, d->len, out, cap);
        d->len = 0;
        if (n <= 0) {
            ++d->framing_errors;
            return 0;
        }
        return n;
    }
}
