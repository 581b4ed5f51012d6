/* lunarsite wire protocol: message table, frame build and parse (PROTOCOL.md).
 * Frame: COBS(version u8 | seq u8 | type u8 | len u8 | payload | crc16 LE) 0x00. */
#ifndef LS_PROTOCOL_H
#define LS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "ls_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LS_PROTOCOL_VERSION 1u
#define LS_FW_MAJOR 1u
#define LS_FW_MINOR 0u
#define LS_FW_PATCH 0u
#define LS_HEADER_BYTES 4u
#define LS_CRC_BYTES 2u
#define LS_MAX_PAYLOAD (LS_MAX_DECODED - LS_HEADER_BYTES - LS_CRC_BYTES)

/* Host to rover. */
#define LS_MSG_HELLO_REQ 0x01u
#define LS_MSG_HEARTBEAT_HOST 0x02u
#define LS_MSG_PING 0x03u
#define LS_MSG_SETPOINT 0x10u
#define LS_MSG_CMD_SERVO 0x20u
#define LS_MSG_CMD_MODE 0x21u
#define LS_MSG_CMD_STOP 0x22u
#define LS_MSG_CMD_STOP_RESET 0x23u
#define LS_MSG_CMD_PARAM_SET 0x24u
#define LS_MSG_PARAM_GET 0x30u
/* Rover to host. */
#define LS_MSG_HELLO 0x81u
#define LS_MSG_HEARTBEAT 0x82u
#define LS_MSG_PONG 0x83u
#define LS_MSG_TELEMETRY 0x90u
#define LS_MSG_ODOMETRY 0x91u
#define LS_MSG_LINK_STATUS 0x92u
#define LS_MSG_ACK 0xA0u
#define LS_MSG_PARAM_VALUE 0xA1u

enum { LS_MODE_IDLE = 0, LS_MODE_ARMED = 1 };
enum {
    LS_ACK_OK = 0,
    LS_ACK_DUPLICATE = 1,
    LS_ACK_BAD_ARGUMENT = 2,
    LS_ACK_WRONG_STATE = 3,
    LS_ACK_NO_SESSION = 4
};
enum {
    LS_HELLO_ANNOUNCE = 0,
    LS_HELLO_ACCEPTED = 1,
    LS_HELLO_PROTOCOL_MISMATCH = 2,
    LS_HELLO_SCHEMA_MISMATCH = 3
};
enum {
    LS_RESET_UNKNOWN = 0,
    LS_RESET_POWER_ON = 1,
    LS_RESET_EXTERNAL = 2,
    LS_RESET_BROWN_OUT = 3,
    LS_RESET_WATCHDOG = 4,
    LS_RESET_SOFTWARE = 5
};
#define LS_FAULT_WATCHDOG 0x0001u
#define LS_FAULT_ESTOP 0x0002u
#define LS_FAULT_NO_SESSION 0x0004u
#define LS_FAULT_DISARMED 0x0008u
#define LS_FAULT_LOW_BATTERY 0x0010u
#define LS_FAULT_IMU 0x0020u

enum {
    LS_PARAM_WHEEL_RADIUS_M = 0,
    LS_PARAM_TRACK_M = 1,
    LS_PARAM_TRACK_FACTOR = 2,
    LS_PARAM_TICKS_PER_REV = 3,
    LS_PARAM_MAX_WHEEL_SPEED_RADPS = 4,
    LS_PARAM_MAX_WHEEL_ACCEL_RADPS2 = 5,
    LS_PARAM_SPEED_KP = 6,
    LS_PARAM_SPEED_KI = 7,
    LS_PARAM_SERVO0_MIN_RAD = 8,
    LS_PARAM_SERVO0_MAX_RAD = 9,
    LS_PARAM_SERVO0_SPEED_RADPS = 10,
    LS_PARAM_SERVO1_MIN_RAD = 11,
    LS_PARAM_SERVO1_MAX_RAD = 12,
    LS_PARAM_SERVO1_SPEED_RADPS = 13,
    LS_PARAM_TELEMETRY_HZ = 14,
    LS_PARAM_COUNT = 15
};

/* The schema hash: FNV-1a 32 of the canonical message table LS_SCHEMA_TEXT
 * (PROTOCOL.md section 3). The firmware uses the constant; tests check that it equals
 * ls_schema_hash() and the host's hash. On AVR the text is in flash (LS_PROGMEM: read it
 * with LS_READ_U8); define LS_NO_SCHEMA_TEXT to leave the 1.3 KB out altogether. */
#define LS_SCHEMA_HASH 0x4873F7D9u
#ifndef LS_NO_SCHEMA_TEXT
extern const char LS_SCHEMA_TEXT[];
uint32_t ls_schema_hash(void);
#endif

/* Payload size of a message type, or -1 if the type is not in the table. */
int ls_payload_size(uint8_t type);

/* Build a wire frame (COBS + delimiter) into out (cap >= LS_MAX_WIRE). Returns its
 * length, or 0 if the payload is too long. */
size_t ls_frame_build(uint8_t type, uint8_t seq, const uint8_t *payload, uint8_t len,
                      uint8_t *out, size_t cap);

typedef struct {
    uint8_t seq;
    uint8_t type;
    uint8_t len;
    const uint8_t *payload;
} ls_frame_t;

/* Check a COBS-decoded frame: CRC, version, length field, known type and its size.
 * Returns 0 and fills f on success, or a negative code: -1 short, -2 CRC, -3 version,
 * -4 length, -5 unknown type, -6 payload size. */
int ls_frame_parse(const uint8_t *dec, size_t n, ls_frame_t *f);

/* Little-endian field access. */
void ls_put_u16(uint8_t *p, uint16_t v);
void ls_put_u32(uint8_t *p, uint32_t v);
void ls_put_f32(uint8_t *p, float v);
uint16_t ls_get_u16(const uint8_t *p);
uint32_t ls_get_u32(const uint8_t *p);
float ls_get_f32(const uint8_t *p);

#ifdef __cplusplus
}
#endif
#endif
