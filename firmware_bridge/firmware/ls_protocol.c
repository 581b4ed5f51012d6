/* lunarsite wire protocol: message table, frame build and parse. See ls_protocol.h. */
#include "ls_protocol.h"

#include <string.h>

/* Must match lunarsite.firmware_bridge.protocol.schema_text() byte for byte (a test
 * compares them): one line per message type, in id order. */
#ifndef LS_NO_SCHEMA_TEXT
const char LS_SCHEMA_TEXT[] LS_PROGMEM =
    "01 HELLO_REQ H2R u8 protocol,u32 schema_hash,u16 session\n"
    "02 HEARTBEAT_HOST H2R u32 host_ms\n"
    "03 PING H2R u32 host_us\n"
    "10 SETPOINT H2R u16 session,u32 counter,i16 linear_mmps,i16 angular_mradps\n"
    "20 CMD_SERVO H2R u16 session,u16 cmd_id,u8 channel,i16 target_mrad\n"
    "21 CMD_MODE H2R u16 session,u16 cmd_id,u8 mode\n"
    "22 CMD_STOP H2R u16 session,u16 cmd_id\n"
    "23 CMD_STOP_RESET H2R u16 session,u16 cmd_id\n"
    "24 CMD_PARAM_SET H2R u16 session,u16 cmd_id,u8 param,f32 value\n"
    "30 PARAM_GET H2R u8 param\n"
    "81 HELLO R2H u8 protocol,u8 fw_major,u8 fw_minor,u8 fw_patch,u32 schema_hash,u32 boot_id,u8 reset_cause,u16 session,u8 status\n"
    "82 HEARTBEAT R2H u32 uptime_ms,u8 mode,u16 faults\n"
    "83 PONG R2H u32 host_us,u32 rover_ms\n"
    "90 TELEMETRY R2H u32 stamp_ms,i32 left_ticks,i32 right_ticks,i16 left_mradps,i16 right_mradps,i16 gyro_x,i16 gyro_y,i16 gyro_z,i16 accel_x,i16 accel_y,i16 accel_z,i16 servo0_mrad,i16 servo1_mrad,u16 battery_mv,u16 faults\n"
    "91 ODOMETRY R2H u32 stamp_ms,i32 x_mm,i32 y_mm,i16 yaw\n"
    "92 LINK_STATUS R2H u32 rx_frames,u16 crc_errors,u16 framing_errors,u16 overflows,u16 stale_setpoints,u16 dup_commands,u16 tx_drops,u16 watchdog_trips,u32 setpoints_applied,u32 last_counter\n"
    "A0 ACK R2H u16 session,u16 cmd_id,u8 status\n"
    "A1 PARAM_VALUE R2H u8 param,f32 value,u8 status\n";

uint32_t ls_schema_hash(void)
{
    /* FNV-1a as ls_fnv1a32, reading the text where it lives (flash on AVR). */
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i + 1u < sizeof LS_SCHEMA_TEXT; ++i) {
        h ^= LS_READ_U8(&LS_SCHEMA_TEXT[i]);
        h *= 16777619u;
    }
    return h;
}
#endif

int ls_payload_size(uint8_t type)
{
    switch (type) {
    case LS_MSG_HELLO_REQ: return 7;
    case LS_MSG_HEARTBEAT_HOST: return 4;
    case LS_MSG_PING: return 4;
    case LS_MSG_SETPOINT: return 10;
    case LS_MSG_CMD_SERVO: return 7;
    case LS_MSG_CMD_MODE: return 5;
    case LS_MSG_CMD_STOP: return 4;
    case LS_MSG_CMD_STOP_RESET: return 4;
    case LS_MSG_CMD_PARAM_SET: return 9;
    case LS_MSG_PARAM_GET: return 1;
    case LS_MSG_HELLO: return 16;
    case LS_MSG_HEARTBEAT: return 7;
    case LS_MSG_PONG: return 8;
    case LS_MSG_TELEMETRY: return 36;
    case LS_MSG_ODOMETRY: return 14;
    case LS_MSG_LINK_STATUS: return 26;
    case LS_MSG_ACK: return 5;
    case LS_MSG_PARAM_VALUE: return 6;
    default: return -1;
    }
}

size_t ls_frame_build(uint8_t type, uint8_t seq, const uint8_t *payload, uint8_t len,
                      uint8_t *out, size_t cap)
{
    uint8_t raw[LS_MAX_DECODED];
    size_t n;
    uint16_t crc;
    if (len > LS_MAX_PAYLOAD || cap < 2u) {
        return 0;
    }
    raw[0] = LS_PROTOCOL_VERSION;
    raw[1] = seq;
    raw[2] = type;
    raw[3] = len;
    if (len > 0u) {
        memcpy(&raw[LS_HEADER_BYTES], payload, len);
    }
    crc = ls_crc16(raw, LS_HEADER_BYTES + (size_t)len);
    ls_put_u16(&raw[LS_HEADER_BYTES + len], crc);
    n = ls_cobs_encode(raw, LS_HEADER_BYTES + (size_t)len + LS_CRC_BYTES, out, cap - 1u);
    if (n == 0) {
        return 0;
    }
    out[n] = 0;
    return n + 1u;
}

int ls_frame_parse(const uint8_t *dec, size_t n, ls_frame_t *f)
{
    uint16_t crc;
    int expect;
    if (n < LS_HEADER_BYTES + LS_CRC_BYTES || n > LS_MAX_DECODED) {
        return -1;
    }
    crc = ls_crc16(dec, n - LS_CRC_BYTES);
    if (crc != ls_get_u16(&dec[n - LS_CRC_BYTES])) {
        return -2;
    }
    if (dec[0] != LS_PROTOCOL_VERSION) {
        return -3;
    }
    if ((size_t)dec[3] != n - LS_HEADER_BYTES - LS_CRC_BYTES) {
        return -4;
    }
    expect = ls_payload_size(dec[2]);
    if (expect < 0) {
        return -5;
    }
    if (expect != (int)dec[3]) {
        return -6;
    }
    f->seq = dec[1];
    f->type = dec[2];
    f->len = dec[3];
    f->payload = &dec[LS_HEADER_BYTES];
    return 0;
}

void ls_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

void ls_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

void ls_put_f32(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits); /* IEEE 754 binary32 assumed (AVR, ARM, x86) */
    ls_put_u32(p, bits);
}

uint16_t ls_get_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | ((uint16_t)p[1] << 8));
}

uint32_t ls_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

float ls_get_f32(const uint8_t *p)
{
    uint32_t bits = ls_get_u32(p);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
