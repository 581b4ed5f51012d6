/* Unit tests of the firmware core, run on this machine (with -fsanitize=address,undefined
 * from tests/firmware_bridge/test_firmware_c.py). Prints one line per failure and
 * "N checks, M failed"; exits nonzero on any failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ls_firmware.h"

#define LS_PI_TEST 3.14159265358979f

static int g_checks = 0;
static int g_failed = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++g_checks;                                                                  \
        if (!(cond)) {                                                               \
            ++g_failed;                                                              \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
        }                                                                            \
    } while (0)

/* ------------------------------------------------------------ a fake board */
typedef struct {
    float duty[2];
    int brake;
    int32_t ticks[2];
    float servo[2];
    int servo_calls;
    int events[8];
    ls_event_t last_ev;
    int imu_ok;
    int imu_nan; /* a broken IMU driver that returns NaN */
    uint16_t battery_mv;
    uint8_t rx[1 << 16]; /* what the firmware sent, concatenated */
    size_t rx_len;
} board_t;

static void b_set_motors(void *c, float l, float r, int brake)
{
    board_t *b = (board_t *)c;
    b->duty[0] = l;
    b->duty[1] = r;
    b->brake = brake;
}
static void b_read_encoders(void *c, int32_t *l, int32_t *r)
{
    board_t *b = (board_t *)c;
    *l = b->ticks[0];
    *r = b->ticks[1];
}
static int b_read_imu(void *c, float g[3], float a[3])
{
    board_t *b = (board_t *)c;
    g[0] = g[1] = g[2] = b->imu_nan ? NAN : 0.0f;
    a[0] = a[1] = 0.0f;
    a[2] = b->imu_nan ? INFINITY : 9.8f;
    return b->imu_ok ? 0 : -1;
}
static uint16_t b_battery(void *c)
{
    return ((board_t *)c)->battery_mv;
}
static void b_set_servo(void *c, uint8_t ch, float rad)
{
    board_t *b = (board_t *)c;
    b->servo[ch] = rad;
    ++b->servo_calls;
}
static void b_event(void *c, const ls_event_t *ev)
{
    board_t *b = (board_t *)c;
    ++b->events[ev->kind];
    b->last_ev = *ev;
}

static board_t g_board;
static ls_hal_t g_hal = {&g_board, b_set_motors, b_read_encoders, b_read_imu,
                         b_battery,  b_set_servo,  b_event};

static void boot(ls_fw_t *fw, uint32_t t)
{
    memset(&g_board, 0, sizeof g_board);
    g_board.imu_ok = 1;
    g_board.battery_mv = 7600;
    g_board.duty[0] = g_board.duty[1] = 0.5f; /* garbage before init */
    ls_fw_init(fw, &g_hal, 0xB007u, LS_RESET_POWER_ON, t);
}

/* Move the firmware's queued output into the board's capture buffer. */
static void drain(ls_fw_t *fw)
{
    const uint8_t *p;
    size_t n;
    while ((n = ls_fw_tx_peek(fw, &p)) > 0) {
        if (g_board.rx_len + n <= sizeof g_board.rx) {
            memcpy(&g_board.rx[g_board.rx_len], p, n);
            g_board.rx_len += n;
        }
        ls_fw_tx_consume(fw, n);
    }
}

/* Find the last frame of a type in the captured output; copy its payload. */
static int last_frame(uint8_t type, uint8_t *payload)
{
    ls_decoder_t d;
    uint8_t dec[LS_MAX_DECODED];
    size_t i;
    int found = 0;
    ls_decoder_init(&d);
    for (i = 0; i < g_board.rx_len; ++i) {
        int n = ls_decoder_push(&d, g_board.rx[i], dec, sizeof dec);
        ls_frame_t f;
        if (n > 0 && ls_frame_parse(dec, (size_t)n, &f) == 0 && f.type == type) {
            memcpy(payload, f.payload, f.len);
            found = 1;
        }
    }
    return found;
}

static void send_to(ls_fw_t *fw, uint8_t type, const uint8_t *payload, uint8_t len, uint32_t t)
{
    uint8_t wire[LS_MAX_WIRE];
    size_t n = ls_frame_build(type, 0, payload, len, wire, sizeof wire);
    ls_fw_receive(fw, wire, n, t);
}

static void hello(ls_fw_t *fw, uint16_t session, uint32_t schema, uint32_t t)
{
    uint8_t p[7];
    p[0] = LS_PROTOCOL_VERSION;
    ls_put_u32(&p[1], schema);
    ls_put_u16(&p[5], session);
    send_to(fw, LS_MSG_HELLO_REQ, p, sizeof p, t);
}

static void setpoint(ls_fw_t *fw, uint16_t session, uint32_t counter, int16_t v, int16_t w,
                     uint32_t t)
{
    uint8_t p[10];
    ls_put_u16(&p[0], session);
    ls_put_u32(&p[2], counter);
    ls_put_u16(&p[6], (uint16_t)v);
    ls_put_u16(&p[8], (uint16_t)w);
    send_to(fw, LS_MSG_SETPOINT, p, sizeof p, t);
}

static void command(ls_fw_t *fw, uint8_t type, uint16_t session, uint16_t id, const uint8_t *args,
                    uint8_t nargs, uint32_t t)
{
    uint8_t p[16];
    ls_put_u16(&p[0], session);
    ls_put_u16(&p[2], id);
    if (nargs > 0) {
        memcpy(&p[4], args, nargs);
    }
    send_to(fw, type, p, (uint8_t)(4u + nargs), t);
}

static void arm(ls_fw_t *fw, uint16_t session, uint16_t id, uint32_t t)
{
    uint8_t mode = LS_MODE_ARMED;
    command(fw, LS_MSG_CMD_MODE, session, id, &mode, 1, t);
}

/* ------------------------------------------------------------------- tests */
static void test_crc_check_value(void)
{
    CHECK(ls_crc16((const uint8_t *)"123456789", 9) == 0x29B1u);
    CHECK(ls_crc16((const uint8_t *)"", 0) == 0xFFFFu);
}

static void test_fnv_and_schema(void)
{
    /* FNV-1a 32 reference values (Noll, isthe.com/chongo/tech/comp/fnv). */
    CHECK(ls_fnv1a32((const uint8_t *)"", 0) == 0x811C9DC5u);
    CHECK(ls_fnv1a32((const uint8_t *)"a", 1) == 0xE40C292Cu);
    CHECK(ls_fnv1a32((const uint8_t *)"foobar", 6) == 0xBF9CF968u);
    CHECK(ls_schema_hash() == LS_SCHEMA_HASH);
}

static int cobs_case(const uint8_t *in, size_t n, const uint8_t *expect, size_t m)
{
    uint8_t enc[300];
    uint8_t dec[300];
    size_t e = ls_cobs_encode(in, n, enc, sizeof enc);
    int d = ls_cobs_decode(enc, e, dec, sizeof dec);
    return e == m && memcmp(enc, expect, m) == 0 && d == (int)n && memcmp(dec, in, n) == 0;
}

static void test_cobs_examples(void)
{
    /* Examples from Cheshire and Baker (1999) as tabulated on Wikipedia's COBS page. */
    uint8_t in[300];
    uint8_t ex[300];
    int i;
    {
        const uint8_t a[] = {0x00}, ea[] = {0x01, 0x01};
        const uint8_t b[] = {0x00, 0x00}, eb[] = {0x01, 0x01, 0x01};
        const uint8_t c[] = {0x00, 0x11, 0x00}, ec[] = {0x01, 0x02, 0x11, 0x01};
        const uint8_t d[] = {0x11, 0x22, 0x00, 0x33}, ed[] = {0x03, 0x11, 0x22, 0x02, 0x33};
        const uint8_t e[] = {0x11, 0x22, 0x33, 0x44}, ee[] = {0x05, 0x11, 0x22, 0x33, 0x44};
        const uint8_t f[] = {0x11, 0x00, 0x00, 0x00}, ef[] = {0x02, 0x11, 0x01, 0x01, 0x01};
        CHECK(cobs_case(a, sizeof a, ea, sizeof ea));
        CHECK(cobs_case(b, sizeof b, eb, sizeof eb));
        CHECK(cobs_case(c, sizeof c, ec, sizeof ec));
        CHECK(cobs_case(d, sizeof d, ed, sizeof ed));
        CHECK(cobs_case(e, sizeof e, ee, sizeof ee));
        CHECK(cobs_case(f, sizeof f, ef, sizeof ef));
    }
    /* 01..FE (254 bytes) -> FF 01..FE */
    for (i = 0; i < 254; ++i) {
        in[i] = (uint8_t)(i + 1);
        ex[i + 1] = (uint8_t)(i + 1);
    }
    ex[0] = 0xFF;
    CHECK(cobs_case(in, 254, ex, 255));
    /* 00..FE (255 bytes) -> 01 FF 01..FE */
    for (i = 0; i < 255; ++i) {
        in[i] = (uint8_t)i;
    }
    ex[0] = 0x01;
    ex[1] = 0xFF;
    for (i = 1; i < 255; ++i) {
        ex[i + 1] = (uint8_t)i;
    }
    CHECK(cobs_case(in, 255, ex, 256));
    /* 01..FF (255 bytes) -> FF 01..FE 02 FF */
    for (i = 0; i < 255; ++i) {
        in[i] = (uint8_t)(i + 1);
    }
    ex[0] = 0xFF;
    for (i = 0; i < 254; ++i) {
        ex[i + 1] = (uint8_t)(i + 1);
    }
    ex[255] = 0x02;
    ex[256] = 0xFF;
    CHECK(cobs_case(in, 255, ex, 257));
    {
        const uint8_t bad1[] = {0x05, 0x11, 0x22};      /* code past the end */
        const uint8_t bad2[] = {0x03, 0x11, 0x00, 0x01}; /* zero inside */
        uint8_t out[16];
        CHECK(ls_cobs_decode(bad1, sizeof bad1, out, sizeof out) == -1);
        CHECK(ls_cobs_decode(bad2, sizeof bad2, out, sizeof out) == -1);
        CHECK(ls_cobs_encode(in, 10, out, 5) == 0); /* does not fit: refused */
    }
}

static void test_decoder_partial_and_overflow(void)
{
    uint8_t payload[10] = {1, 2, 3, 0, 5, 6, 7, 8, 9, 10};
    uint8_t wire[LS_MAX_WIRE];
    uint8_t dec[LS_MAX_DECODED];
    size_t n = ls_frame_build(LS_MSG_SETPOINT, 7, payload, sizeof payload, wire, sizeof wire);
    ls_decoder_t d;
    size_t i;
    int got = 0;
    ls_frame_t f;
    CHECK(n > 0 && n <= LS_MAX_WIRE);
    ls_decoder_init(&d);
    for (i = 0; i < n; ++i) { /* one byte at a time */
        int k = ls_decoder_push(&d, wire[i], dec, sizeof dec);
        if (k > 0) {
            got = ls_frame_parse(dec, (size_t)k, &f) == 0 && f.seq == 7 && f.len == 10 &&
                  memcmp(f.payload, payload, 10) == 0;
            CHECK(i == n - 1);
        }
    }
    CHECK(got);
    /* 200 non-zero bytes then a valid frame: the long run is discarded, the frame kept. */
    ls_decoder_init(&d);
    got = 0;
    for (i = 0; i < 200; ++i) {
        CHECK(ls_decoder_push(&d, 0x55, dec, sizeof dec) == 0);
    }
    CHECK(ls_decoder_push(&d, 0x00, dec, sizeof dec) == 0);
    CHECK(d.overflows == 1);
    for (i = 0; i < n; ++i) {
        if (ls_decoder_push(&d, wire[i], dec, sizeof dec) > 0) {
            got = 1;
        }
    }
    CHECK(got);
    /* Every single-bit flip of the frame is rejected. */
    for (i = 0; i + 1 < n; ++i) {
        int bit;
        for (bit = 0; bit < 8; ++bit) {
            uint8_t w2[LS_MAX_WIRE];
            size_t j;
            int delivered = 0;
            memcpy(w2, wire, n);
            w2[i] ^= (uint8_t)(1u << bit);
            ls_decoder_init(&d);
            for (j = 0; j < n; ++j) {
                int k = ls_decoder_push(&d, w2[j], dec, sizeof dec);
                if (k > 0 && ls_frame_parse(dec, (size_t)k, &f) == 0) {
                    delivered = 1;
                }
            }
            CHECK(!delivered);
        }
    }
}

static void test_decoder_fuzz(void)
{
    /* Random bytes, biased toward 0x00 and small codes: never a valid frame out, and
     * never a crash (the sanitizers watch). xorshift32, fixed seed. */
    uint32_t s = 2463534242u;
    ls_decoder_t d;
    uint8_t dec[LS_MAX_DECODED];
    long i;
    int delivered = 0;
    int out_of_range = 0;
    ls_decoder_init(&d);
    for (i = 0; i < 2000000L; ++i) {
        uint8_t b;
        int k;
        ls_frame_t f;
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        b = (uint8_t)(s >> 24);
        if ((s & 0xF) == 0) {
            b = 0;
        } else if ((s & 0xF) == 1) {
            b = (uint8_t)(b & 0x1F);
        }
        k = ls_decoder_push(&d, b, dec, sizeof dec);
        if (k < 0 || k > (int)LS_MAX_DECODED) {
            ++out_of_range;
        }
        if (k > 0 && ls_frame_parse(dec, (size_t)k, &f) == 0) {
            ++delivered;
        }
    }
    /* CRC-16 + length + type checks: a random frame passes with p < 2^-16 * 1/4. */
    CHECK(out_of_range == 0);
    CHECK(delivered <= 2);
}

static void test_boot_stopped_and_announces(void)
{
    ls_fw_t fw;
    uint8_t p[64];
    boot(&fw, 1000);
    CHECK(g_board.brake == 1 && g_board.duty[0] == 0.0f && g_board.duty[1] == 0.0f);
    CHECK(fw.mode == LS_MODE_IDLE && !fw.session_open);
    ls_fw_tick(&fw, 1000);
    drain(&fw);
    CHECK(last_frame(LS_MSG_HELLO, p));
    CHECK(p[15] == LS_HELLO_ANNOUNCE && ls_get_u32(&p[8]) == 0xB007u && p[12] == LS_RESET_POWER_ON);
    CHECK(ls_get_u32(&p[4]) == LS_SCHEMA_HASH);
    /* Setpoints without a session move nothing. */
    setpoint(&fw, 1, 1, 300, 0, 1005);
    ls_fw_tick(&fw, 1020);
    CHECK(g_board.brake == 1);
    CHECK(fw.counters.stale_setpoints == 1);
    CHECK(ls_fw_faults(&fw) & LS_FAULT_NO_SESSION);
}

static void test_handshake_and_schema_mismatch(void)
{
    ls_fw_t fw;
    uint8_t p[64];
    boot(&fw, 0);
    hello(&fw, 42, LS_SCHEMA_HASH ^ 1u, 5);
    drain(&fw);
    CHECK(last_frame(LS_MSG_HELLO, p) && p[15] == LS_HELLO_SCHEMA_MISMATCH);
    CHECK(!fw.session_open);
    hello(&fw, 42, LS_SCHEMA_HASH, 6);
    drain(&fw);
    CHECK(last_frame(LS_MSG_HELLO, p) && p[15] == LS_HELLO_ACCEPTED && ls_get_u16(&p[13]) == 42);
    CHECK(fw.session_open && fw.session == 42 && fw.mode == LS_MODE_IDLE);
    CHECK(g_board.events[LS_EV_SESSION] == 1);
    hello(&fw, 42, LS_SCHEMA_HASH, 7); /* a retried request does not reset the session */
    CHECK(g_board.events[LS_EV_SESSION] == 1);
}

static void test_setpoint_drive_stale_and_watchdog(void)
{
    ls_fw_t fw;
    uint32_t t;
    boot(&fw, 0);
    hello(&fw, 9, LS_SCHEMA_HASH, 1);
    setpoint(&fw, 9, 1, 200, 0, 2); /* disarmed: newest, but not applied */
    CHECK(fw.counters.setpoints_applied == 0);
    arm(&fw, 9, 1, 3);
    CHECK(fw.mode == LS_MODE_ARMED);
    ls_fw_tick(&fw, 20);
    CHECK(g_board.brake == 1); /* armed, but no setpoint since arming */
    setpoint(&fw, 9, 5, 200, 0, 21);
    CHECK(fw.counters.setpoints_applied == 1);
    ls_fw_tick(&fw, 31);
    CHECK(g_board.brake == 0 && g_board.duty[0] > 0.0f && g_board.duty[1] > 0.0f);
    setpoint(&fw, 9, 4, -200, 0, 32); /* older counter: dropped */
    setpoint(&fw, 9, 5, -200, 0, 33); /* same counter (duplicate): dropped */
    setpoint(&fw, 8, 6, -200, 0, 34); /* other session: dropped */
    CHECK(fw.counters.stale_setpoints == 3 && fw.cmd_linear_mps > 0.0f);
    /* Garbage and heartbeats do not feed the watchdog. */
    for (t = 40; t < 400; t += 10) {
        uint8_t junk[8] = {0x11, 0x22, 0x00, 0x05, 0x01, 0x02, 0x00, 0x00};
        uint8_t hb[4] = {0, 0, 0, 0};
        ls_fw_receive(&fw, junk, sizeof junk, t);
        send_to(&fw, LS_MSG_HEARTBEAT_HOST, hb, 4, t);
        ls_fw_tick(&fw, t);
        if (t < 21 + LS_WATCHDOG_MS) {
            CHECK(g_board.brake == 0);
        } else {
            CHECK(g_board.brake == 1 && g_board.duty[0] == 0.0f);
        }
    }
    CHECK(fw.counters.watchdog_trips == 1 && g_board.events[LS_EV_WATCHDOG] == 1);
    CHECK(ls_fw_faults(&fw) & LS_FAULT_WATCHDOG);
    /* A new setpoint resumes and clears the fault. */
    setpoint(&fw, 9, 7, 100, 0, 400);
    ls_fw_tick(&fw, 410);
    CHECK(g_board.brake == 0 && !(ls_fw_faults(&fw) & LS_FAULT_WATCHDOG));
    /* A new session (reconnect) stops and needs arming and a new setpoint. */
    hello(&fw, 10, LS_SCHEMA_HASH, 420);
    ls_fw_tick(&fw, 430);
    CHECK(g_board.brake == 1 && fw.mode == LS_MODE_IDLE);
    setpoint(&fw, 9, 8, 100, 0, 431); /* old session's setpoint: dropped */
    arm(&fw, 10, 1, 432);
    ls_fw_tick(&fw, 440);
    CHECK(g_board.brake == 1);
}

static void test_watchdog_without_session_change(void)
{
    /* The session closes (schema mismatch from another host) mid-drive: brake at once. */
    ls_fw_t fw;
    boot(&fw, 0);
    hello(&fw, 3, LS_SCHEMA_HASH, 1);
    arm(&fw, 3, 1, 2);
    setpoint(&fw, 3, 1, 300, 0, 3);
    ls_fw_tick(&fw, 13);
    CHECK(g_board.brake == 0);
    hello(&fw, 4, 0xDEADBEEFu, 14);
    ls_fw_tick(&fw, 15);
    CHECK(g_board.brake == 1);
}

static void test_commands_once(void)
{
    ls_fw_t fw;
    uint8_t args[3];
    uint8_t p[64];
    int i;
    boot(&fw, 0);
    hello(&fw, 5, LS_SCHEMA_HASH, 1);
    arm(&fw, 5, 1, 2);
    args[0] = 0;
    ls_put_u16(&args[1], (uint16_t)1000);
    command(&fw, LS_MSG_CMD_SERVO, 5, 2, args, 3, 3);
    command(&fw, LS_MSG_CMD_SERVO, 5, 2, args, 3, 4); /* retry: not applied again */
    command(&fw, LS_MSG_CMD_SERVO, 5, 1, args, 3, 5); /* older: not applied */
    CHECK(g_board.events[LS_EV_COMMAND] == 2);         /* arm + servo */
    CHECK(fw.counters.dup_commands == 2);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && ls_get_u16(&p[2]) == 1 && p[4] == LS_ACK_DUPLICATE);
    /* Slew at 6 rad/s toward 1.0 rad: after 100 ms about 0.6 rad. */
    for (i = 1; i <= 10; ++i) {
        ls_fw_tick(&fw, 5 + 10u * (uint32_t)i);
    }
    CHECK(fabsf(g_board.servo[0] - 0.6f) < 0.07f);
    for (i = 11; i <= 40; ++i) {
        ls_fw_tick(&fw, 5 + 10u * (uint32_t)i);
    }
    CHECK(fabsf(g_board.servo[0] - 1.0f) < 1e-4f);
    /* Clamped to the joint limit. */
    ls_put_u16(&args[1], (uint16_t)3000);
    command(&fw, LS_MSG_CMD_SERVO, 5, 3, args, 3, 500);
    for (i = 0; i < 100; ++i) {
        ls_fw_tick(&fw, 510 + 10u * (uint32_t)i);
        drain(&fw);
    }
    CHECK(fabsf(g_board.servo[0] - 1.6f) < 1e-4f);
    /* Bad channel: rejected, acknowledged, and a retry gets the same status. */
    args[0] = 7;
    command(&fw, LS_MSG_CMD_SERVO, 5, 4, args, 3, 2000);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_BAD_ARGUMENT);
    command(&fw, LS_MSG_CMD_SERVO, 5, 4, args, 3, 2001);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_BAD_ARGUMENT);
    /* Wrong session: NO_SESSION, not applied. */
    args[0] = 1;
    command(&fw, LS_MSG_CMD_SERVO, 6, 5, args, 3, 2002);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_NO_SESSION);
}

static void test_estop_latches(void)
{
    ls_fw_t fw;
    uint8_t mode = LS_MODE_ARMED;
    uint8_t p[64];
    boot(&fw, 0);
    hello(&fw, 5, LS_SCHEMA_HASH, 1);
    arm(&fw, 5, 1, 2);
    setpoint(&fw, 5, 1, 300, 0, 3);
    ls_fw_tick(&fw, 13);
    CHECK(g_board.brake == 0);
    command(&fw, LS_MSG_CMD_STOP, 5, 2, NULL, 0, 14);
    CHECK(g_board.brake == 1 && fw.estop);
    setpoint(&fw, 5, 2, 300, 0, 15);
    ls_fw_tick(&fw, 25);
    CHECK(g_board.brake == 1);
    command(&fw, LS_MSG_CMD_MODE, 5, 3, &mode, 1, 26); /* cannot arm while stopped */
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_WRONG_STATE);
    hello(&fw, 6, LS_SCHEMA_HASH, 27); /* survives a new session */
    CHECK(fw.estop);
    command(&fw, LS_MSG_CMD_STOP_RESET, 6, 1, NULL, 0, 28);
    CHECK(!fw.estop && fw.mode == LS_MODE_IDLE);
}

static void test_params(void)
{
    ls_fw_t fw;
    uint8_t args[5];
    uint8_t p[64];
    uint8_t id = LS_PARAM_TRACK_M;
    boot(&fw, 0);
    hello(&fw, 5, LS_SCHEMA_HASH, 1);
    args[0] = LS_PARAM_TRACK_M;
    ls_put_f32(&args[1], 0.3f);
    command(&fw, LS_MSG_CMD_PARAM_SET, 5, 1, args, 5, 2);
    CHECK(fabsf(fw.params[LS_PARAM_TRACK_M] - 0.3f) < 1e-6f);
    send_to(&fw, LS_MSG_PARAM_GET, &id, 1, 3);
    drain(&fw);
    CHECK(last_frame(LS_MSG_PARAM_VALUE, p) && p[0] == id && fabsf(ls_get_f32(&p[1]) - 0.3f) < 1e-6f);
    ls_put_f32(&args[1], -1.0f); /* out of range */
    command(&fw, LS_MSG_CMD_PARAM_SET, 5, 2, args, 5, 4);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_BAD_ARGUMENT);
    ls_put_f32(&args[1], NAN);
    command(&fw, LS_MSG_CMD_PARAM_SET, 5, 3, args, 5, 5);
    CHECK(fabsf(fw.params[LS_PARAM_TRACK_M] - 0.3f) < 1e-6f);
    arm(&fw, 5, 4, 6); /* not while armed */
    ls_put_f32(&args[1], 0.25f);
    command(&fw, LS_MSG_CMD_PARAM_SET, 5, 5, args, 5, 7);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_WRONG_STATE);
}

static void test_mixing(void)
{
    float l, r;
    /* Straight: both sides v / r. */
    ls_mix_skid_steer(0.33f, 0.0f, 0.033f, 0.185f, 1.0f, 100.0f, &l, &r);
    CHECK(fabsf(l - 10.0f) < 1e-4f && fabsf(r - 10.0f) < 1e-4f);
    /* Turn in place: opposite sides, omega * track * factor / 2 / r. */
    ls_mix_skid_steer(0.0f, 1.0f, 0.05f, 0.2f, 1.5f, 100.0f, &l, &r);
    CHECK(fabsf(r - 3.0f) < 1e-4f && fabsf(l + 3.0f) < 1e-4f);
    /* Saturation keeps the ratio. */
    ls_mix_skid_steer(0.3f, 0.5f, 0.033f, 0.185f, 1.75f, 5.0f, &l, &r);
    CHECK(fabsf(r - 5.0f) < 1e-4f && l > 0.0f && l < r);
    CHECK(fabsf(l / r - (0.3f - 0.5f * 0.161875f) / (0.3f + 0.5f * 0.161875f)) < 1e-4f);
}

static void test_odometry(void)
{
    float x = 0.0f, y = 0.0f, yaw = 0.0f;
    int i;
    /* One wheel revolution each side: 2 pi r forward. */
    ls_odometry_update(&x, &y, &yaw, 1000, 1000, 0.05f, 0.2f, 1.0f, 1000.0f);
    CHECK(fabsf(x - 0.3141593f) < 1e-5f && fabsf(y) < 1e-6f && fabsf(yaw) < 1e-6f);
    /* Turning in place by pi/2 in 100 steps, then one revolution forward: along +y. */
    x = y = yaw = 0.0f;
    for (i = 0; i < 100; ++i) {
        /* per step: dyaw = (dr - dl) * 2 pi r / tpr / track = pi / 200 */
        ls_odometry_update(&x, &y, &yaw, -5, 5, 0.05f, 0.2f, 1.0f, 1000.0f);
    }
    CHECK(fabsf(yaw - 1.5707963f) < 1e-4f && fabsf(x) < 1e-5f && fabsf(y) < 1e-5f);
    ls_odometry_update(&x, &y, &yaw, 1000, 1000, 0.05f, 0.2f, 1.0f, 1000.0f);
    CHECK(fabsf(y - 0.3141593f) < 1e-4f && fabsf(x) < 1e-4f);
}

static void test_tx_bounded(void)
{
    ls_fw_t fw;
    uint8_t ping[4] = {1, 2, 3, 4};
    int i;
    boot(&fw, 0);
    for (i = 0; i < 100; ++i) { /* nobody drains: the queue fills, whole frames dropped */
        send_to(&fw, LS_MSG_PING, ping, 4, 1);
    }
    CHECK(fw.tx_len <= LS_TX_CAP);
    CHECK(fw.counters.tx_drops > 0);
    g_board.rx_len = 0;
    drain(&fw);
    {
        ls_decoder_t d;
        uint8_t dec[LS_MAX_DECODED];
        size_t k;
        int good = 0, bad = 0;
        ls_decoder_init(&d);
        for (k = 0; k < g_board.rx_len; ++k) {
            int n = ls_decoder_push(&d, g_board.rx[k], dec, sizeof dec);
            ls_frame_t f;
            if (n > 0) {
                if (ls_frame_parse(dec, (size_t)n, &f) == 0) {
                    ++good;
                } else {
                    ++bad;
                }
            }
        }
        CHECK(good > 0 && bad == 0 && d.framing_errors == 0);
    }
}

static void test_wheel_speed_loop(void)
{
    /* A crude plant: ticks follow duty * 13.6 rad/s; the PI loop reaches the target. */
    ls_fw_t fw;
    uint32_t t;
    uint32_t counter = 0;
    double angle[2] = {0.0, 0.0};
    boot(&fw, 0);
    hello(&fw, 1, LS_SCHEMA_HASH, 0);
    arm(&fw, 1, 1, 0);
    for (t = 1; t < 2000; ++t) {
        int i;
        if (t % 50 == 0) {
            setpoint(&fw, 1, ++counter, 165, 0, t); /* 0.165 m/s = 5 rad/s */
        }
        ls_fw_tick(&fw, t);
        for (i = 0; i < 2; ++i) {
            angle[i] += (g_board.brake ? 0.0 : g_board.duty[i] * 13.6) * 1e-3;
            g_board.ticks[i] = (int32_t)floor(angle[i] * 1496.0 / 6.283185307);
        }
    }
    CHECK(fabsf(fw.wheel_meas_radps[0] - 5.0f) < 0.3f);
    CHECK(fabsf(fw.wheel_meas_radps[1] - 5.0f) < 0.3f);
    CHECK(fw.odom_x_m > 0.2f && fabsf(fw.odom_y_m) < 1e-3f);
}

static void test_zero_setpoint_brakes(void)
{
    /* Drive, then stream zero: once the references have ramped down the motors brake and
     * the integrators are cleared, so the wheels stop dead instead of creeping on what
     * the integrators held. */
    ls_fw_t fw;
    uint32_t t;
    uint32_t counter = 0;
    double angle[2] = {0.0, 0.0};
    double at_stop[2] = {0.0, 0.0};
    boot(&fw, 0);
    hello(&fw, 1, LS_SCHEMA_HASH, 0);
    arm(&fw, 1, 1, 0);
    for (t = 1; t < 4000; ++t) {
        int i;
        if (t % 50 == 0) {
            setpoint(&fw, 1, ++counter, t < 2000 ? 165 : 0, t < 2000 ? 300 : 0, t);
        }
        ls_fw_tick(&fw, t);
        for (i = 0; i < 2; ++i) {
            angle[i] += (g_board.brake ? 0.0 : g_board.duty[i] * 13.6) * 1e-3;
            g_board.ticks[i] = (int32_t)floor(angle[i] * 1496.0 / 6.283185307);
        }
        if (t == 3000) {
            at_stop[0] = angle[0];
            at_stop[1] = angle[1];
        }
    }
    CHECK(g_board.brake == 1);
    CHECK(fw.integ[0] == 0.0f && fw.integ[1] == 0.0f);
    CHECK(angle[0] == at_stop[0] && angle[1] == at_stop[1]);
}

static void test_wraparound(void)
{
    /* The setpoint counter, the command id and the millisecond clock all wrap; the
     * newer-than rules use serial arithmetic (PROTOCOL.md sections 5 and 7). */
    ls_fw_t fw;
    uint8_t args[3];
    uint8_t p[64];
    const uint32_t t0 = 0xFFFFFF00u; /* the clock wraps 256 ms after boot */
    uint32_t t;
    boot(&fw, t0);
    hello(&fw, 7, LS_SCHEMA_HASH, t0 + 1u);
    arm(&fw, 7, 0xFFFEu, t0 + 2u);
    CHECK(fw.mode == LS_MODE_ARMED);
    setpoint(&fw, 7, 0xFFFFFFFEu, 100, 0, t0 + 3u);
    setpoint(&fw, 7, 0xFFFFFFFFu, 110, 0, t0 + 4u);
    setpoint(&fw, 7, 0x00000000u, 120, 0, t0 + 5u); /* wrapped: newer */
    setpoint(&fw, 7, 0x00000001u, 130, 0, t0 + 6u);
    CHECK(fw.counters.setpoints_applied == 4 && fw.last_counter == 1u);
    setpoint(&fw, 7, 0xFFFFFFFFu, -100, 0, t0 + 7u); /* from before the wrap: stale */
    setpoint(&fw, 7, 0x80000001u, -100, 0, t0 + 8u); /* half the space ahead: stale */
    CHECK(fw.counters.setpoints_applied == 4 && fw.counters.stale_setpoints == 2);
    CHECK(fabsf(fw.cmd_linear_mps - 0.13f) < 1e-6f);
    /* Command ids: 0xFFFF, then 0x0001 (the host skips 0) is newer; 0xFFFF again is a
     * retry of the previous command, not a new one. */
    args[0] = 0;
    ls_put_u16(&args[1], (uint16_t)500);
    command(&fw, LS_MSG_CMD_SERVO, 7, 0xFFFFu, args, 3, t0 + 9u);
    ls_put_u16(&args[1], (uint16_t)700);
    command(&fw, LS_MSG_CMD_SERVO, 7, 0x0001u, args, 3, t0 + 10u);
    CHECK(fabsf(fw.servo_target_rad[0] - 0.7f) < 1e-6f);
    ls_put_u16(&args[1], (uint16_t)100);
    command(&fw, LS_MSG_CMD_SERVO, 7, 0xFFFFu, args, 3, t0 + 11u);
    drain(&fw);
    CHECK(last_frame(LS_MSG_ACK, p) && p[4] == LS_ACK_DUPLICATE);
    CHECK(fabsf(fw.servo_target_rad[0] - 0.7f) < 1e-6f);
    CHECK(g_board.events[LS_EV_COMMAND] == 3); /* arm + two servo targets */
    /* The watchdog across the clock's wrap: the last valid setpoint at t0 + 200, the
     * clock wraps at t0 + 256, the brake comes at t0 + 400 and not before. */
    setpoint(&fw, 7, 2u, 150, 0, t0 + 200u);
    for (t = t0 + 200u; t != t0 + 450u; ++t) {
        ls_fw_tick(&fw, t);
        if ((uint32_t)(t - (t0 + 200u)) < LS_WATCHDOG_MS) {
            CHECK(g_board.brake == 0);
        } else {
            CHECK(g_board.brake == 1);
        }
    }
    CHECK(fw.counters.watchdog_trips == 1);
}

static void test_glitches_stay_bounded(void)
{
    /* An encoder that jumps by 2^31 counts and an IMU that returns NaN and infinity:
     * odometry stays finite and wrapped and the loop returns (no endless angle
     * wrapping), and telemetry packs without undefined float-to-integer conversions. */
    ls_fw_t fw;
    uint8_t p[64];
    boot(&fw, 0);
    hello(&fw, 2, LS_SCHEMA_HASH, 1);
    g_board.imu_nan = 1;
    g_board.ticks[0] = INT32_MIN;
    g_board.ticks[1] = INT32_MAX;
    ls_fw_tick(&fw, 20);
    ls_fw_tick(&fw, 30);
    drain(&fw);
    CHECK(last_frame(LS_MSG_TELEMETRY, p));
    CHECK((int16_t)ls_get_u16(&p[16]) == 0);     /* NaN gyro: 0 */
    CHECK((int16_t)ls_get_u16(&p[26]) == 32767); /* +inf accel: saturated */
    CHECK(fw.odom_yaw_rad >= -LS_PI_TEST && fw.odom_yaw_rad < LS_PI_TEST);
    {
        float x = 0.0f, y = 0.0f, yaw = 0.0f;
        ls_odometry_update(&x, &y, &yaw, INT32_MIN, INT32_MAX, 1.0f, 0.02f, 1.0f, 1.0f);
        CHECK(yaw >= -LS_PI_TEST && yaw < LS_PI_TEST);
        yaw = 3.1415925f; /* just below pi, plus a little: wraps to just above -pi */
        ls_odometry_update(&x, &y, &yaw, -1, 1, 0.05f, 0.2f, 1.0f, 1000.0f);
        CHECK(yaw >= -LS_PI_TEST && yaw < -3.1f);
    }
}

int main(void)
{
    test_crc_check_value();
    test_fnv_and_schema();
    test_cobs_examples();
    test_decoder_partial_and_overflow();
    test_decoder_fuzz();
    test_boot_stopped_and_announces();
    test_handshake_and_schema_mismatch();
    test_setpoint_drive_stale_and_watchdog();
    test_watchdog_without_session_change();
    test_commands_once();
    test_estop_latches();
    test_params();
    test_mixing();
    test_odometry();
    test_tx_bounded();
    test_wheel_speed_loop();
    test_zero_setpoint_brakes();
    test_wraparound();
    test_glitches_stay_bounded();
    printf("%d checks, %d failed\n", g_checks, g_failed);
    return g_failed == 0 ? 0 : 1;
}
