/* lunarsite firmware core: protocol endpoint, command watchdog, skid-steer mixing,
 * wheel speed control, odometry and servo tools behind a small hardware layer.
 *
 * Portable C99 for an Arduino-class board or this machine: no dynamic allocation, no
 * blocking waits, every buffer bounded. The board's main loop calls
 *   ls_fw_receive()  with the bytes the UART received,
 *   ls_fw_tick()     as often as it can (at least every few ms),
 *   ls_fw_tx_peek()/ls_fw_tx_consume() to move queued bytes into the UART,
 * passing a millisecond clock that may wrap. The rover boots IDLE with the motors braked;
 * the wheels move only on a valid setpoint of the open session while ARMED, and brake
 * LS_WATCHDOG_MS after the last valid setpoint whatever the link or session state. */
#ifndef LS_FIRMWARE_H
#define LS_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "ls_codec.h"
#include "ls_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LS_CONTROL_PERIOD_MS 10u    /* wheel control at 100 Hz */
#define LS_WATCHDOG_MS 200u         /* brake this long after the last valid setpoint */
#define LS_TX_CAP 256u              /* bytes queued for the UART */
#define LS_NUM_SERVOS 2u            /* channel 0 tool (scoop), 1 gripper */
#define LS_ANNOUNCE_PERIOD_MS 500u  /* unsolicited HELLO while no session is open */
#define LS_HEARTBEAT_PERIOD_MS 500u
#define LS_STATUS_PERIOD_MS 500u
#define LS_ODOM_PERIOD_MS 100u
#ifndef LS_LOW_BATTERY_MV
#define LS_LOW_BATTERY_MV 6400u     /* 2S LiPo at 3.2 V per cell (design choice) */
#endif

enum { LS_EV_SETPOINT = 1, LS_EV_COMMAND = 2, LS_EV_WATCHDOG = 3, LS_EV_SESSION = 4 };

/* Something the core applied, for logging (the virtual rover writes these as JSON). */
typedef struct {
    uint8_t kind;     /* LS_EV_* */
    uint8_t msg_type; /* command events: the LS_MSG_CMD_* type */
    uint8_t status;   /* command events: the LS_ACK_* status sent back */
    uint16_t session;
    uint16_t cmd_id;
    uint32_t counter; /* setpoint events */
    int32_t a;        /* setpoint: linear mm/s; servo: channel; mode: mode; param: id */
    int32_t b;        /* setpoint: angular mrad/s; servo: target mrad */
    float value;      /* param: value */
    uint32_t now_ms;
} ls_event_t;

/* The hardware layer. Every function must return at once. */
typedef struct {
    void *ctx;
    /* Duty in [-1, 1] per side (positive drives forward); brake != 0 shorts the motors. */
    void (*set_motors)(void *ctx, float left_duty, float right_duty, int brake);
    void (*read_encoders)(void *ctx, int32_t *left_ticks, int32_t *right_ticks);
    /* Body-frame rates (rad/s) and specific force (m/s^2); returns 0 when valid. */
    int (*read_imu)(void *ctx, float gyro_radps[3], float accel_mps2[3]);
    uint16_t (*read_battery_mv)(void *ctx);
    void (*set_servo)(void *ctx, uint8_t channel, float angle_rad);
    void (*on_event)(void *ctx, const ls_event_t *ev); /* may be NULL */
} ls_hal_t;

typedef struct {
    uint32_t rx_frames;
    uint16_t crc_errors;
    uint16_t framing_errors; /* COBS errors and bad headers */
    uint16_t stale_setpoints;
    uint16_t dup_commands;
    uint16_t tx_drops;
    uint16_t watchdog_trips;
    uint32_t setpoints_applied;
} ls_counters_t;

typedef struct {
    const ls_hal_t *hal;
    ls_decoder_t rx;
    uint8_t rx_frame[LS_MAX_DECODED];
    uint8_t tx[LS_TX_CAP];
    uint16_t tx_head; /* next byte to send */
    uint16_t tx_len;  /* bytes queued */
    uint8_t tx_seq;

    uint32_t boot_id;
    uint32_t schema_hash;
    uint8_t reset_cause;

    uint8_t session_open;
    uint16_t session;
    uint8_t mode;
    uint8_t estop;

    uint8_t have_counter;
    uint32_t last_counter;
    uint8_t have_setpoint; /* a valid setpoint is live (not timed out) */
    uint32_t last_setpoint_ms;
    uint8_t watchdog_tripped;
    float cmd_linear_mps;
    float cmd_angular_radps;

    uint8_t have_cmd;
    uint16_t last_cmd_id;
    uint8_t last_cmd_status;

    float params[LS_PARAM_COUNT];

    int32_t prev_ticks[2];
    float wheel_meas_radps[2];
    float wheel_ref_radps[2];
    float integ[2];
    uint8_t braked;

    float odom_x_m;
    float odom_y_m;
    float odom_yaw_rad;

    uint8_t servo_active[LS_NUM_SERVOS];
    float servo_pos_rad[LS_NUM_SERVOS];
    float servo_target_rad[LS_NUM_SERVOS];

    float gyro_radps[3];
    float accel_mps2[3];
    uint8_t imu_ok;
    uint16_t battery_mv;

    uint32_t boot_ms;
    uint32_t now_ms;
    uint32_t last_control_ms;
    uint32_t next_telemetry_ms;
    uint32_t next_odom_ms;
    uint32_t next_status_ms;
    uint32_t next_announce_ms;
    uint32_t next_heartbeat_ms;

    ls_counters_t counters;
} ls_fw_t;

/* Boot: motors braked, IDLE, no session. */
void ls_fw_init(ls_fw_t *fw, const ls_hal_t *hal, uint32_t boot_id, uint8_t reset_cause,
                uint32_t now_ms);
void ls_fw_receive(ls_fw_t *fw, const uint8_t *data, size_t n, uint32_t now_ms);
void ls_fw_tick(ls_fw_t *fw, uint32_t now_ms);
/* Contiguous queued bytes: returns their count and points *data at them. */
size_t ls_fw_tx_peek(const ls_fw_t *fw, const uint8_t **data);
void ls_fw_tx_consume(ls_fw_t *fw, size_t n);
uint16_t ls_fw_faults(const ls_fw_t *fw);
/* Set a parameter as CMD_PARAM_SET would (for boards that load stored settings). */
uint8_t ls_fw_set_param(ls_fw_t *fw, uint8_t id, float value);

/* Pure helpers, exposed for tests. */
void ls_mix_skid_steer(float linear_mps, float angular_radps, float wheel_radius_m,
                       float track_m, float track_factor, float max_wheel_radps,
                       float *left_radps, float *right_radps);
void ls_odometry_update(float *x_m, float *y_m, float *yaw_rad, int32_t d_left_ticks,
                        int32_t d_right_ticks, float wheel_radius_m, float track_m,
                        float track_factor, float ticks_per_rev);

#ifdef __cplusplus
}
#endif
#endif
