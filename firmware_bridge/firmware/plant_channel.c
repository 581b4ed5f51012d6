/* The plant channel: see plant_channel.h. Shared by the virtual rover and the AVR host. */
#define _DEFAULT_SOURCE
#include "plant_channel.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void putf(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put32(p, v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; --i) {
        v = (v << 8) | p[i];
    }
    return v;
}

static float getf(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

void plant_channel_open(plant_channel_t *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
}

void plant_channel_poll(plant_channel_t *c)
{
    uint8_t buf[64];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        int i;
        if (n != PLANT_IN_BYTES) {
            if (n < 0) {
                return; /* nothing waiting (or the simulator is gone: keep the last) */
            }
            continue; /* a datagram of another size: ignore it */
        }
        for (i = 0; i < 2; ++i) {
            uint64_t bits = get64(&buf[8 * i]);
            memcpy(&c->wheel_rad[i], &bits, sizeof(double));
        }
        for (i = 0; i < 3; ++i) {
            c->gyro_radps[i] = getf(&buf[16 + 4 * i]);
            c->accel_mps2[i] = getf(&buf[28 + 4 * i]);
        }
        c->have_input = 1;
    }
}

void plant_channel_send(plant_channel_t *c, uint32_t t_ms, const double duty[2], int brake,
                        const double servo_rad[2], uint8_t servo_bits)
{
    float now[5];
    uint8_t out[PLANT_OUT_BYTES];
    int i;
    now[0] = (float)duty[0];
    now[1] = (float)duty[1];
    now[2] = (float)servo_rad[0];
    now[3] = (float)servo_rad[1];
    now[4] = brake ? 1.0f : 0.0f;
    if (c->sent_once && memcmp(now, c->last_out, sizeof now) == 0 &&
        servo_bits == c->last_servo_bits && (uint32_t)(t_ms - c->last_sent_ms) < 20u) {
        return;
    }
    memset(out, 0, sizeof out);
    put32(&out[0], t_ms);
    for (i = 0; i < 4; ++i) {
        putf(&out[4 + 4 * i], now[i]);
    }
    out[20] = brake ? 1u : 0u;
    out[21] = servo_bits;
    if (send(c->fd, out, sizeof out, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof out) {
        memcpy(c->last_out, now, sizeof now);
        c->last_servo_bits = servo_bits;
        c->last_sent_ms = t_ms;
        c->sent_once = 1;
    }
}
