/* lunarsite firmware core. See ls_firmware.h for the contract and PROTOCOL.md for the
 * wire format. */
#include "ls_firmware.h"

#include <math.h>
#include <string.h>

#define LS_PI 3.14159265358979f
#define LS_TWO_PI 6.28318530717959f

/* Defaults: the lab rover (launch/rovers/lab_rover.yaml); the host sets them at connect. */
static const float k_default_params[LS_PARAM_COUNT] LS_PROGMEM = {
    0.033f,  /* WHEEL_RADIUS_M */
    0.185f,  /* TRACK_M */
    1.75f,   /* TRACK_FACTOR */
    1496.0f, /* TICKS_PER_REV */
    12.0f,   /* MAX_WHEEL_SPEED_RADPS, below the 13.6 rad/s no-load speed */
    40.0f,   /* MAX_WHEEL_ACCEL_RADPS2 */
    0.05f,   /* SPEED_KP, duty per rad/s */
    0.5f,    /* SPEED_KI, duty per rad */
    -0.5f,   /* SERVO0_MIN_RAD */
    1.6f,    /* SERVO0_MAX_RAD */
    6.0f,    /* SERVO0_SPEED_RADPS */
    -0.2f,   /* SERVO1_MIN_RAD */
    0.8f,    /* SERVO1_MAX_RAD */
    5.0f,    /* SERVO1_SPEED_RADPS */
    100.0f,  /* TELEMETRY_HZ */
};

static const float k_param_min[LS_PARAM_COUNT] LS_PROGMEM = {
    0.005f, 0.02f, 1.0f, 1.0f, 0.01f, 0.01f, 0.0f, 0.0f,
    -6.3f, -6.3f, 0.01f, -6.3f, -6.3f, 0.01f, 1.0f,
};
static const float k_param_max[LS_PARAM_COUNT] LS_PROGMEM = {
    1.0f, 5.0f, 4.0f, 1.0e6f, 500.0f, 1.0e4f, 10.0f, 100.0f,
    6.3f, 6.3f, 100.0f, 6.3f, 6.3f, 100.0f, 100.0f,
};

/* ------------------------------------------------------------------ helpers */
static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Round to the nearest integer and saturate. NaN gives 0: converting a NaN (or any
 * value out of range) to an integer type is undefined behaviour in C. */
static int16_t to_i16(float v)
{
    float r = v >= 0.0f ? v + 0.5f : v - 0.5f;
    if (r != r) {
        return 0;
    }
    if (r > 32767.0f) {
        return 32767;
    }
    if (r < -32768.0f) {
        return -32768;
    }
    return (int16_t)r;
}

static int32_t to_i32(float v)
{
    float r = v >= 0.0f ? v + 0.5f : v - 0.5f;
    if (r != r) {
        return 0;
    }
    if (r > 2147483520.0f) {
        return 2147483520;
    }
    if (r < -2147483520.0f) {
        return -2147483520;
    }
    return (int32_t)r;
}

/* Wrap to [-pi, pi) in bounded time: a subtraction loop would never end on a huge
 * angle (an encoder glitch), where subtracting 2 pi no longer changes the float. */
static float wrap_pi(float a)
{
    if (!(a >= -LS_PI && a < LS_PI)) {
        if (!(fabsf(a) < 1.0e6f)) {
            return 0.0f; /* NaN, infinite or absurd: restart the heading */
        }
        a = fmodf(a + LS_PI, LS_TWO_PI);
        a = a < 0.0f ? a + LS_PI : a - LS_PI;
        if (a >= LS_PI) { /* rounding at the upper edge */
            a -= LS_TWO_PI;
        }
    }
    return a;
}

static void emit(ls_fw_t *fw, const ls_event_t *ev)
{
    if (fw->hal->on_event != NULL) {
        fw->hal->on_event(fw->hal->ctx, ev);
    }
}

/* Queue a whole frame or none of it. */
static void send(ls_fw_t *fw, uint8_t type, const uint8_t *payload, uint8_t len)
{
    uint8_t wire[LS_MAX_WIRE];
    size_t n = ls_frame_build(type, fw->tx_seq, payload, len, wire, sizeof wire);
    size_t i;
    if (n == 0 || n > (size_t)(LS_TX_CAP - fw->tx_len)) {
        ++fw->counters.tx_drops;
        return;
    }
    ++fw->tx_seq;
    for (i = 0; i < n; ++i) {
        fw->tx[(fw->tx_head + fw->tx_len) % LS_TX_CAP] = wire[i];
        ++fw->tx_len;
    }
}

static void brake(ls_fw_t *fw)
{
    fw->wheel_ref_radps[0] = fw->wheel_ref_radps[1] = 0.0f;
    fw->integ[0] = fw->integ[1] = 0.0f;
    if (!fw->braked) {
        fw->braked = 1;
    }
    fw->hal->set_motors(fw->hal->ctx, 0.0f, 0.0f, 1);
}

static int drive_allowed(const ls_fw_t *fw)
{
    return fw->session_open && fw->mode == LS_MODE_ARMED && !fw->estop && fw->have_setpoint;
}

uint16_t ls_fw_faults(const ls_fw_t *fw)
{
    uint16_t f = 0;
    if (fw->watchdog_tripped) {
        f |= LS_FAULT_WATCHDOG;
    }
    if (fw->estop) {
        f |= LS_FAULT_ESTOP;
    }
    if (!fw->session_open) {
        f |= LS_FAULT_NO_SESSION;
    }
    if (fw->mode != LS_MODE_ARMED) {
        f |= LS_FAULT_DISARMED;
    }
    if (fw->battery_mv < LS_LOW_BATTERY_MV) {
        f |= LS_FAULT_LOW_BATTERY;
    }
    if (!fw->imu_ok) {
        f |= LS_FAULT_IMU;
    }
    return f;
}

/* ------------------------------------------------------------------- replies */
static void send_hello(ls_fw_t *fw, uint16_t session, uint8_t status)
{
    uint8_t p[16];
    p[0] = LS_PROTOCOL_VERSION;
    p[1] = LS_FW_MAJOR;
    p[2] = LS_FW_MINOR;
    p[3] = LS_FW_PATCH;
    ls_put_u32(&p[4], fw->schema_hash);
    ls_put_u32(&p[8], fw->boot_id);
    p[12] = fw->reset_cause;
    ls_put_u16(&p[13], session);
    p[15] = status;
    send(fw, LS_MSG_HELLO, p, sizeof p);
}

static void send_ack(ls_fw_t *fw, uint16_t session, uint16_t cmd_id, uint8_t status)
{
    uint8_t p[5];
    ls_put_u16(&p[0], session);
    ls_put_u16(&p[2], cmd_id);
    p[4] = status;
    send(fw, LS_MSG_ACK, p, sizeof p);
}

static void send_telemetry(ls_fw_t *fw)
{
    uint8_t p[36];
    int32_t ticks[2];
    fw->hal->read_encoders(fw->hal->ctx, &ticks[0], &ticks[1]);
    ls_put_u32(&p[0], fw->now_ms - fw->boot_ms);
    ls_put_u32(&p[4], (uint32_t)ticks[0]);
    ls_put_u32(&p[8], (uint32_t)ticks[1]);
    ls_put_u16(&p[12], (uint16_t)to_i16(fw->wheel_meas_radps[0] * 1000.0f));
    ls_put_u16(&p[14], (uint16_t)to_i16(fw->wheel_meas_radps[1] * 1000.0f));
    ls_put_u16(&p[16], (uint16_t)to_i16(fw->gyro_radps[0] / 2e-4f));
    ls_put_u16(&p[18], (uint16_t)to_i16(fw->gyro_radps[1] / 2e-4f));
    ls_put_u16(&p[20], (uint16_t)to_i16(fw->gyro_radps[2] / 2e-4f));
    ls_put_u16(&p[22], (uint16_t)to_i16(fw->accel_mps2[0] * 1000.0f));
    ls_put_u16(&p[24], (uint16_t)to_i16(fw->accel_mps2[1] * 1000.0f));
    ls_put_u16(&p[26], (uint16_t)to_i16(fw->accel_mps2[2] * 1000.0f));
    ls_put_u16(&p[28], (uint16_t)to_i16(fw->servo_pos_rad[0] * 1000.0f));
    ls_put_u16(&p[30], (uint16_t)to_i16(fw->servo_pos_rad[1] * 1000.0f));
    ls_put_u16(&p[32], fw->battery_mv);
    ls_put_u16(&p[34], ls_fw_faults(fw));
    send(fw, LS_MSG_TELEMETRY, p, sizeof p);
}

static void send_odometry(ls_fw_t *fw)
{
    uint8_t p[14];
    ls_put_u32(&p[0], fw->now_ms - fw->boot_ms);
    ls_put_u32(&p[4], (uint32_t)to_i32(fw->odom_x_m * 1000.0f));
    ls_put_u32(&p[8], (uint32_t)to_i32(fw->odom_y_m * 1000.0f));
    ls_put_u16(&p[12], (uint16_t)to_i16(fw->odom_yaw_rad * 1.0e4f));
    send(fw, LS_MSG_ODOMETRY, p, sizeof p);
}

static void send_link_status(ls_fw_t *fw)
{
    uint8_t p[26];
    const ls_counters_t *c = &fw->counters;
    ls_put_u32(&p[0], c->rx_frames);
    ls_put_u16(&p[4], c->crc_errors);
    ls_put_u16(&p[6], (uint16_t)(c->framing_errors + fw->rx.framing_errors));
    ls_put_u16(&p[8], fw->rx.overflows);
    ls_put_u16(&p[10], c->stale_setpoints);
    ls_put_u16(&p[12], c->dup_commands);
    ls_put_u16(&p[14], c->tx_drops);
    ls_put_u16(&p[16], c->watchdog_trips);
    ls_put_u32(&p[18], c->setpoints_applied);
    ls_put_u32(&p[22], fw->last_counter);
    send(fw, LS_MSG_LINK_STATUS, p, sizeof p);
}

static void send_heartbeat(ls_fw_t *fw)
{
    uint8_t p[7];
    ls_put_u32(&p[0], fw->now_ms - fw->boot_ms);
    p[4] = fw->mode;
    ls_put_u16(&p[5], ls_fw_faults(fw));
    send(fw, LS_MSG_HEARTBEAT, p, sizeof p);
}

/* ------------------------------------------------------------------ sessions */
static void close_session(ls_fw_t *fw)
{
    fw->session_open = 0;
    fw->mode = LS_MODE_IDLE;
    fw->have_setpoint = 0;
    brake(fw);
}

static void handle_hello(ls_fw_t *fw, const uint8_t *p)
{
    uint8_t protocol = p[0];
    uint32_t schema = ls_get_u32(&p[1]);
    uint16_t session = ls_get_u16(&p[5]);
    ls_event_t ev;
    if (protocol != LS_PROTOCOL_VERSION) {
        close_session(fw);
        send_hello(fw, session, LS_HELLO_PROTOCOL_MISMATCH);
        return;
    }
    if (schema != fw->schema_hash) {
        close_session(fw);
        send_hello(fw, session, LS_HELLO_SCHEMA_MISMATCH);
        return;
    }
    if (session == 0) {
        return; /* not a valid session id */
    }
    if (fw->session_open && session == fw->session) {
        send_hello(fw, session, LS_HELLO_ACCEPTED); /* a retried request */
        return;
    }
    /* A new session: stopped, disarmed, fresh counters. A latched stop stays latched. */
    close_session(fw);
    fw->session_open = 1;
    fw->session = session;
    fw->have_counter = 0;
    fw->last_counter = 0;
    fw->have_cmd = 0;
    fw->watchdog_tripped = 0;
    memset(&ev, 0, sizeof ev);
    ev.kind = LS_EV_SESSION;
    ev.session = session;
    ev.now_ms = fw->now_ms;
    emit(fw, &ev);
    send_hello(fw, session, LS_HELLO_ACCEPTED);
}

static void handle_setpoint(ls_fw_t *fw, const uint8_t *p)
{
    uint16_t session = ls_get_u16(&p[0]);
    uint32_t counter = ls_get_u32(&p[2]);
    int16_t linear = (int16_t)ls_get_u16(&p[6]);
    int16_t angular = (int16_t)ls_get_u16(&p[8]);
    ls_event_t ev;
    if (!fw->session_open || session != fw->session) {
        ++fw->counters.stale_setpoints;
        return;
    }
    if (fw->have_counter && (int32_t)(counter - fw->last_counter) <= 0) {
        ++fw->counters.stale_setpoints; /* older than or equal to the newest: drop */
        return;
    }
    fw->have_counter = 1;
    fw->last_counter = counter;
    if (fw->mode != LS_MODE_ARMED || fw->estop) {
        return; /* newest, but the rover may not move */
    }
    fw->cmd_linear_mps = (float)linear * 1.0e-3f;
    fw->cmd_angular_radps = (float)angular * 1.0e-3f;
    fw->have_setpoint = 1;
    fw->last_setpoint_ms = fw->now_ms;
    fw->watchdog_tripped = 0;
    ++fw->counters.setpoints_applied;
    memset(&ev, 0, sizeof ev);
    ev.kind = LS_EV_SETPOINT;
    ev.session = session;
    ev.counter = counter;
    ev.a = linear;
    ev.b = angular;
    ev.now_ms = fw->now_ms;
    emit(fw, &ev);
}

uint8_t ls_fw_set_param(ls_fw_t *fw, uint8_t id, float value)
{
    if (id >= LS_PARAM_COUNT ||
        !(value >= LS_READ_F32(&k_param_min[id]) && value <= LS_READ_F32(&k_param_max[id]))) {
        return LS_ACK_BAD_ARGUMENT; /* also rejects NaN */
    }
    if ((id == LS_PARAM_SERVO0_MIN_RAD && value > fw->params[LS_PARAM_SERVO0_MAX_RAD]) ||
        (id == LS_PARAM_SERVO0_MAX_RAD && value < fw->params[LS_PARAM_SERVO0_MIN_RAD]) ||
        (id == LS_PARAM_SERVO1_MIN_RAD && value > fw->params[LS_PARAM_SERVO1_MAX_RAD]) ||
        (id == LS_PARAM_SERVO1_MAX_RAD && value < fw->params[LS_PARAM_SERVO1_MIN_RAD])) {
        return LS_ACK_BAD_ARGUMENT;
    }
    fw->params[id] = value;
    return LS_ACK_OK;
}

static uint8_t apply_command(ls_fw_t *fw, uint8_t type, const uint8_t *p, ls_event_t *ev)
{
    switch (type) {
    case LS_MSG_CMD_SERVO: {
        uint8_t ch = p[4];
        int16_t target = (int16_t)ls_get_u16(&p[5]);
        ev->a = ch;
        ev->b = target;
        if (ch >= LS_NUM_SERVOS) {
            return LS_ACK_BAD_ARGUMENT;
        }
        if (fw->mode != LS_MODE_ARMED || fw->estop) {
            return LS_ACK_WRONG_STATE;
        }
        fw->servo_target_rad[ch] = (float)target * 1.0e-3f;
        fw->servo_active[ch] = 1;
        return LS_ACK_OK;
    }
    case LS_MSG_CMD_MODE: {
        uint8_t mode = p[4];
        ev->a = mode;
        if (mode == LS_MODE_IDLE) {
            fw->mode = LS_MODE_IDLE;
            fw->have_setpoint = 0;
            brake(fw);
            return LS_ACK_OK;
        }
        if (mode == LS_MODE_ARMED) {
            if (fw->estop) {
                return LS_ACK_WRONG_STATE;
            }
            if (fw->mode != LS_MODE_ARMED) {
                fw->mode = LS_MODE_ARMED;
                fw->have_setpoint = 0; /* move only on a setpoint sent after arming */
            }
            return LS_ACK_OK;
        }
        return LS_ACK_BAD_ARGUMENT;
    }
    case LS_MSG_CMD_STOP:
        fw->estop = 1;
        fw->mode = LS_MODE_IDLE;
        fw->have_setpoint = 0;
        brake(fw);
        return LS_ACK_OK;
    case LS_MSG_CMD_STOP_RESET:
        fw->estop = 0;
        return LS_ACK_OK;
    case LS_MSG_CMD_PARAM_SET: {
        uint8_t id = p[4];
        float value = ls_get_f32(&p[5]);
        ev->a = id;
        ev->value = value;
        if (fw->mode != LS_MODE_IDLE) {
            return LS_ACK_WRONG_STATE;
        }
        return ls_fw_set_param(fw, id, value);
    }
    default:
        return LS_ACK_BAD_ARGUMENT;
    }
}

static void handle_command(ls_fw_t *fw, uint8_t type, const uint8_t *p)
{
    uint16_t session = ls_get_u16(&p[0]);
    uint16_t cmd_id = ls_get_u16(&p[2]);
    uint8_t status;
    ls_event_t ev;
    if (!fw->session_open || session != fw->session) {
        send_ack(fw, session, cmd_id, LS_ACK_NO_SESSION);
        return;
    }
    if (fw->have_cmd) {
        int16_t d = (int16_t)(uint16_t)(cmd_id - fw->last_cmd_id);
        if (d <= 0) {
            /* A retry of the last command gets its original status again; anything
             * older is a stale duplicate. Neither is applied again. */
            ++fw->counters.dup_commands;
            send_ack(fw, session, cmd_id, d == 0 ? fw->last_cmd_status : LS_ACK_DUPLICATE);
            return;
        }
    }
    memset(&ev, 0, sizeof ev);
    status = apply_command(fw, type, p, &ev);
    fw->have_cmd = 1;
    fw->last_cmd_id = cmd_id;
    fw->last_cmd_status = status;
    ev.kind = LS_EV_COMMAND;
    ev.msg_type = type;
    ev.status = status;
    ev.session = session;
    ev.cmd_id = cmd_id;
    ev.now_ms = fw->now_ms;
    emit(fw, &ev);
    send_ack(fw, session, cmd_id, status);
}

static void handle_frame(ls_fw_t *fw, const ls_frame_t *f)
{
    const uint8_t *p = f->payload;
    ++fw->counters.rx_frames;
    switch (f->type) {
    case LS_MSG_HELLO_REQ:
        handle_hello(fw, p);
        break;
    case LS_MSG_HEARTBEAT_HOST:
        break; /* liveness only: never feeds the motion watchdog */
    case LS_MSG_PING: {
        uint8_t r[8];
        memcpy(r, p, 4);
        ls_put_u32(&r[4], fw->now_ms - fw->boot_ms);
        send(fw, LS_MSG_PONG, r, sizeof r);
        break;
    }
    case LS_MSG_SETPOINT:
        handle_setpoint(fw, p);
        break;
    case LS_MSG_CMD_SERVO:
    case LS_MSG_CMD_MODE:
    case LS_MSG_CMD_STOP:
    case LS_MSG_CMD_STOP_RESET:
    case LS_MSG_CMD_PARAM_SET:
        handle_command(fw, f->type, p);
        break;
    case LS_MSG_PARAM_GET: {
        uint8_t r[6];
        uint8_t id = p[0];
        r[0] = id;
        ls_put_f32(&r[1], id < LS_PARAM_COUNT ? fw->params[id] : 0.0f);
        r[5] = id < LS_PARAM_COUNT ? LS_ACK_OK : LS_ACK_BAD_ARGUMENT;
        send(fw, LS_MSG_PARAM_VALUE, r, sizeof r);
        break;
    }
    default:
        break; /* rover-to-host types arriving here are ignored */
    }
}

/* ------------------------------------------------------------------ control */
void ls_mix_skid_steer(float linear_mps, float angular_radps, float wheel_radius_m,
                       float track_m, float track_factor, float max_wheel_radps,
                       float *left_radps, float *right_radps)
{
    float half = 0.5f * track_m * track_factor;
    float l = (linear_mps - angular_radps * half) / wheel_radius_m;
    float r = (linear_mps + angular_radps * half) / wheel_radius_m;
    float m = fabsf(l) > fabsf(r) ? fabsf(l) : fabsf(r);
    if (m > max_wheel_radps && m > 0.0f) {
        /* Scale both sides: keeps the turning radius, slows down. */
        float s = max_wheel_radps / m;
        l *= s;
        r *= s;
    }
    *left_radps = l;
    *right_radps = r;
}

void ls_odometry_update(float *x_m, float *y_m, float *yaw_rad, int32_t d_left_ticks,
                        int32_t d_right_ticks, float wheel_radius_m, float track_m,
                        float track_factor, float ticks_per_rev)
{
    float k = LS_TWO_PI * wheel_radius_m / ticks_per_rev;
    float dl = (float)d_left_ticks * k;
    float dr = (float)d_right_ticks * k;
    float ds = 0.5f * (dl + dr);
    float dyaw = (dr - dl) / (track_m * track_factor);
    float mid = *yaw_rad + 0.5f * dyaw;
    *x_m += ds * cosf(mid);
    *y_m += ds * sinf(mid);
    *yaw_rad = wrap_pi(*yaw_rad + dyaw);
}

static void control_step(ls_fw_t *fw, float dt_s)
{
    const float *P = fw->params;
    int32_t ticks[2];
    int i;
    float tpr = P[LS_PARAM_TICKS_PER_REV];

    fw->hal->read_encoders(fw->hal->ctx, &ticks[0], &ticks[1]);
    for (i = 0; i < 2; ++i) {
        int32_t d = (int32_t)((uint32_t)ticks[i] - (uint32_t)fw->prev_ticks[i]);
        float raw = (float)d * LS_TWO_PI / (tpr * dt_s);
        fw->wheel_meas_radps[i] = 0.6f * fw->wheel_meas_radps[i] + 0.4f * raw;
    }
    ls_odometry_update(&fw->odom_x_m, &fw->odom_y_m, &fw->odom_yaw_rad,
                       (int32_t)((uint32_t)ticks[0] - (uint32_t)fw->prev_ticks[0]),
                       (int32_t)((uint32_t)ticks[1] - (uint32_t)fw->prev_ticks[1]),
                       P[LS_PARAM_WHEEL_RADIUS_M], P[LS_PARAM_TRACK_M],
                       P[LS_PARAM_TRACK_FACTOR], tpr);
    fw->prev_ticks[0] = ticks[0];
    fw->prev_ticks[1] = ticks[1];

    fw->imu_ok = fw->hal->read_imu(fw->hal->ctx, fw->gyro_radps, fw->accel_mps2) == 0;
    fw->battery_mv = fw->hal->read_battery_mv(fw->hal->ctx);

    if (drive_allowed(fw)) {
        float target[2];
        float duty[2];
        float wmax = P[LS_PARAM_MAX_WHEEL_SPEED_RADPS];
        float step = P[LS_PARAM_MAX_WHEEL_ACCEL_RADPS2] * dt_s;
        ls_mix_skid_steer(fw->cmd_linear_mps, fw->cmd_angular_radps, P[LS_PARAM_WHEEL_RADIUS_M],
                          P[LS_PARAM_TRACK_M], P[LS_PARAM_TRACK_FACTOR], wmax, &target[0],
                          &target[1]);
        if (target[0] == 0.0f && target[1] == 0.0f && fw->wheel_ref_radps[0] == 0.0f &&
            fw->wheel_ref_radps[1] == 0.0f) {
            /* Told to stand and ramped down: brake, rather than servo round zero speed
             * on what the integrators hold (the wheels would creep). */
            brake(fw);
            goto servos;
        }
        for (i = 0; i < 2; ++i) {
            float ref = fw->wheel_ref_radps[i];
            float err;
            float u;
            ref += clampf(target[i] - ref, -step, step);
            fw->wheel_ref_radps[i] = ref;
            err = ref - fw->wheel_meas_radps[i];
            u = ref / wmax + P[LS_PARAM_SPEED_KP] * err + P[LS_PARAM_SPEED_KI] * fw->integ[i];
            if ((u < 1.0f || err < 0.0f) && (u > -1.0f || err > 0.0f)) {
                fw->integ[i] += err * dt_s; /* no wind-up while saturated */
            }
            duty[i] = clampf(u, -1.0f, 1.0f);
        }
        fw->braked = 0;
        fw->hal->set_motors(fw->hal->ctx, duty[0], duty[1], 0);
    } else {
        brake(fw);
    }

servos:
    for (i = 0; i < (int)LS_NUM_SERVOS; ++i) {
        const float lo = P[i == 0 ? LS_PARAM_SERVO0_MIN_RAD : LS_PARAM_SERVO1_MIN_RAD];
        const float hi = P[i == 0 ? LS_PARAM_SERVO0_MAX_RAD : LS_PARAM_SERVO1_MAX_RAD];
        const float v = P[i == 0 ? LS_PARAM_SERVO0_SPEED_RADPS : LS_PARAM_SERVO1_SPEED_RADPS];
        float target = clampf(fw->servo_target_rad[i], lo, hi);
        float step = v * dt_s;
        if (!fw->servo_active[i]) {
            continue;
        }
        fw->servo_pos_rad[i] += clampf(target - fw->servo_pos_rad[i], -step, step);
        fw->hal->set_servo(fw->hal->ctx, (uint8_t)i, fw->servo_pos_rad[i]);
    }
}

/* ---------------------------------------------------------------- public API */
void ls_fw_init(ls_fw_t *fw, const ls_hal_t *hal, uint32_t boot_id, uint8_t reset_cause,
                uint32_t now_ms)
{
    unsigned i;
    memset(fw, 0, sizeof *fw);
    fw->hal = hal;
    ls_decoder_init(&fw->rx);
    fw->boot_id = boot_id;
    fw->reset_cause = reset_cause;
    fw->schema_hash = LS_SCHEMA_HASH;
    fw->mode = LS_MODE_IDLE;
    for (i = 0; i < LS_PARAM_COUNT; ++i) {
        fw->params[i] = LS_READ_F32(&k_default_params[i]);
    }
    fw->servo_pos_rad[0] = 0.0f;
    fw->servo_pos_rad[1] = 0.0f;
    fw->imu_ok = 1;
    fw->battery_mv = 0xFFFFu;
    fw->boot_ms = now_ms;
    fw->now_ms = now_ms;
    fw->last_control_ms = now_ms;
    fw->next_telemetry_ms = now_ms;
    fw->next_odom_ms = now_ms;
    fw->next_status_ms = now_ms;
    fw->next_announce_ms = now_ms;
    fw->next_heartbeat_ms = now_ms;
    hal->read_encoders(hal->ctx, &fw->prev_ticks[0], &fw->prev_ticks[1]);
    brake(fw); /* boot stopped */
}

void ls_fw_receive(ls_fw_t *fw, const uint8_t *data, size_t n, uint32_t now_ms)
{
    size_t i;
    fw->now_ms = now_ms;
    for (i = 0; i < n; ++i) {
        int len = ls_decoder_push(&fw->rx, data[i], fw->rx_frame, sizeof fw->rx_frame);
        if (len > 0) {
            ls_frame_t f;
            int rc = ls_frame_parse(fw->rx_frame, (size_t)len, &f);
            if (rc == 0) {
                handle_frame(fw, &f);
            } else if (rc == -2) {
                ++fw->counters.crc_errors;
            } else {
                ++fw->counters.framing_errors;
            }
        }
    }
}

static int due(uint32_t now, uint32_t at)
{
    return (int32_t)(now - at) >= 0;
}

void ls_fw_tick(ls_fw_t *fw, uint32_t now_ms)
{
    uint32_t elapsed;
    fw->now_ms = now_ms;

    /* The watchdog: time since the last valid setpoint, nothing else. */
    if (fw->have_setpoint && (uint32_t)(now_ms - fw->last_setpoint_ms) >= LS_WATCHDOG_MS) {
        ls_event_t ev;
        fw->have_setpoint = 0;
        if (fw->mode == LS_MODE_ARMED) {
            fw->watchdog_tripped = 1;
            ++fw->counters.watchdog_trips;
        }
        brake(fw);
        memset(&ev, 0, sizeof ev);
        ev.kind = LS_EV_WATCHDOG;
        ev.session = fw->session;
        ev.counter = fw->last_counter;
        ev.now_ms = now_ms;
        emit(fw, &ev);
    }
    if (!drive_allowed(fw) && !fw->braked) {
        brake(fw);
    }

    elapsed = now_ms - fw->last_control_ms;
    if (elapsed >= LS_CONTROL_PERIOD_MS) {
        float dt = (float)(elapsed > 100u ? 100u : elapsed) * 1.0e-3f;
        fw->last_control_ms = now_ms;
        control_step(fw, dt);
        if (fw->session_open && due(now_ms, fw->next_telemetry_ms)) {
            uint32_t period = (uint32_t)(1000.0f / fw->params[LS_PARAM_TELEMETRY_HZ] + 0.5f);
            fw->next_telemetry_ms = now_ms + (period > 0u ? period : 1u) - 1u;
            send_telemetry(fw);
        }
    }
    if (fw->session_open && due(now_ms, fw->next_odom_ms)) {
        fw->next_odom_ms = now_ms + LS_ODOM_PERIOD_MS;
        send_odometry(fw);
    }
    if (fw->session_open && due(now_ms, fw->next_status_ms)) {
        fw->next_status_ms = now_ms + LS_STATUS_PERIOD_MS;
        send_link_status(fw);
    }
    if (due(now_ms, fw->next_heartbeat_ms)) {
        fw->next_heartbeat_ms = now_ms + LS_HEARTBEAT_PERIOD_MS;
        send_heartbeat(fw);
    }
    if (!fw->session_open && due(now_ms, fw->next_announce_ms)) {
        fw->next_announce_ms = now_ms + LS_ANNOUNCE_PERIOD_MS;
        send_hello(fw, 0, LS_HELLO_ANNOUNCE);
    }
}

size_t ls_fw_tx_peek(const ls_fw_t *fw, const uint8_t **data)
{
    size_t contiguous = LS_TX_CAP - fw->tx_head;
    *data = &fw->tx[fw->tx_head];
    return fw->tx_len < contiguous ? fw->tx_len : contiguous;
}

void ls_fw_tx_consume(ls_fw_t *fw, size_t n)
{
    if (n > fw->tx_len) {
        n = fw->tx_len;
    }
    fw->tx_head = (uint16_t)((fw->tx_head + n) % LS_TX_CAP);
    fw->tx_len = (uint16_t)(fw->tx_len - n);
}
