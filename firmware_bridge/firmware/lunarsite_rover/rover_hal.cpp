/* Hardware layer for AVR Arduinos: see rover_hal.h and the board headers. */
#include <Arduino.h>
#include <Wire.h>
#include <avr/pgmspace.h>
#include <util/atomic.h>

#include "board.h"
#include "rover_hal.h"

/* ------------------------------------------------------------------ encoders */
static volatile int32_t g_ticks[2];
static volatile uint8_t g_enc_prev;

/* Quadrature decoding: index (previous AB << 2 | new AB) -> step. Invalid (both
 * changed) transitions count nothing. */
static const int8_t k_quad[16] PROGMEM = {0, 1, -1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 0, -1, 1, 0};

static uint8_t enc_state(uint8_t pins)
{
    uint8_t l = (uint8_t)((((pins >> LS_ENC_LEFT_A_BIT) & 1u) << 1) | ((pins >> LS_ENC_LEFT_B_BIT) & 1u));
    uint8_t r = (uint8_t)((((pins >> LS_ENC_RIGHT_A_BIT) & 1u) << 1) | ((pins >> LS_ENC_RIGHT_B_BIT) & 1u));
    return (uint8_t)((l << 2) | r);
}

ISR(LS_ENC_VECTOR)
{
    uint8_t now = enc_state(LS_ENC_PIN_REG);
    uint8_t prev = g_enc_prev;
    int8_t dl = (int8_t)pgm_read_byte(&k_quad[((prev >> 2) & 3u) << 2 | ((now >> 2) & 3u)]);
    int8_t dr = (int8_t)pgm_read_byte(&k_quad[(prev & 3u) << 2 | (now & 3u)]);
    g_ticks[0] += dl;
    g_ticks[1] += dr;
    g_enc_prev = now;
}

static void hal_read_encoders(void *ctx, int32_t *left, int32_t *right)
{
    (void)ctx;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE)
    {
        *left = LS_LEFT_ENCODER_SIGN * g_ticks[0];
        *right = LS_RIGHT_ENCODER_SIGN * g_ticks[1];
    }
}

/* -------------------------------------------------------------------- motors */
static void drive_side(uint8_t pwm, uint8_t in1, uint8_t in2, float duty, int brake)
{
    if (brake) {
        /* TB6612 short brake (IN1 = IN2 = H); L298N fast motor stop (IN1 = IN2, EN H). */
        digitalWrite(in1, HIGH);
        digitalWrite(in2, HIGH);
        analogWrite(pwm, 255);
        return;
    }
    float mag = duty >= 0.0f ? duty : -duty;
    int level = (int)(mag * 255.0f + 0.5f);
    if (level > 255) {
        level = 255;
    }
    if (level == 0) {
        digitalWrite(in1, LOW); /* coast */
        digitalWrite(in2, LOW);
    } else {
        digitalWrite(in1, duty > 0.0f ? HIGH : LOW);
        digitalWrite(in2, duty > 0.0f ? LOW : HIGH);
    }
    analogWrite(pwm, level);
}

static void hal_set_motors(void *ctx, float left, float right, int brake)
{
    (void)ctx;
    drive_side(LS_PIN_LEFT_PWM, LS_PIN_LEFT_IN1, LS_PIN_LEFT_IN2, LS_LEFT_MOTOR_SIGN * left, brake);
    drive_side(LS_PIN_RIGHT_PWM, LS_PIN_RIGHT_IN1, LS_PIN_RIGHT_IN2, LS_RIGHT_MOTOR_SIGN * right,
               brake);
}

/* ----------------------------------------------------------------------- IMU */
static uint8_t g_imu_ready;
static uint32_t g_imu_retry_ms;

static uint8_t imu_write(uint8_t reg, uint8_t value)
{
    Wire.beginTransmission(LS_IMU_I2C_ADDR);
    Wire.write(reg);
    Wire.write(value);
    return Wire.endTransmission() == 0;
}

static void imu_init(void)
{
    g_imu_ready = imu_write(0x6B, 0x01)     /* PWR_MGMT_1: wake, PLL on gyro x */
                  && imu_write(0x1A, 0x03)  /* CONFIG: DLPF ~44 Hz */
                  && imu_write(0x1B, 0x08)  /* GYRO_CONFIG: +-500 deg/s, 65.5 LSB per deg/s */
                  && imu_write(0x1C, 0x08); /* ACCEL_CONFIG: +-4 g, 8192 LSB per g */
}

static int hal_read_imu(void *ctx, float gyro[3], float accel[3])
{
    (void)ctx;
    uint8_t raw[14];
    uint8_t i;
    int16_t v[7];
    if (!g_imu_ready) {
        if ((int32_t)(millis() - g_imu_retry_ms) >= 0) {
            g_imu_retry_ms = millis() + 1000u; /* try again once a second */
            imu_init();
        }
        if (!g_imu_ready) {
            return -1;
        }
    }
    Wire.beginTransmission(LS_IMU_I2C_ADDR);
    Wire.write(0x3B); /* ACCEL_XOUT_H .. GYRO_ZOUT_L */
    if (Wire.endTransmission(false) != 0 || Wire.requestFrom(LS_IMU_I2C_ADDR, 14) != 14) {
        Wire.clearWireTimeoutFlag();
        g_imu_ready = 0;
        return -1;
    }
    for (i = 0; i < 14; ++i) {
        raw[i] = (uint8_t)Wire.read();
    }
    for (i = 0; i < 7; ++i) {
        v[i] = (int16_t)((uint16_t)raw[2 * i] << 8 | raw[2 * i + 1]);
    }
    /* v: ax ay az temp gx gy gz. */
    const float a_scale = 9.80665f / 8192.0f;
    const float g_scale = 0.01745329252f / 65.5f;
    const uint8_t axis[3] = {LS_IMU_AXIS_X, LS_IMU_AXIS_Y, LS_IMU_AXIS_Z};
    const int8_t sign[3] = {LS_IMU_SIGN_X, LS_IMU_SIGN_Y, LS_IMU_SIGN_Z};
    for (i = 0; i < 3; ++i) {
        accel[i] = (float)sign[i] * (float)v[axis[i]] * a_scale;
        gyro[i] = (float)sign[i] * (float)v[4 + axis[i]] * g_scale;
    }
    return 0;
}

/* -------------------------------------------------------------------- servos */
/* Timer1 fast PWM (mode 14, TOP = ICR1), prescaler 8: 0.5 us per count, 20 ms frame. */
static void hal_set_servo(void *ctx, uint8_t channel, float angle_rad)
{
    (void)ctx;
    float us = (float)LS_SERVO_CENTER_US + angle_rad * (float)LS_SERVO_US_PER_RAD;
    if (us < (float)LS_SERVO_MIN_US) {
        us = (float)LS_SERVO_MIN_US;
    }
    if (us > (float)LS_SERVO_MAX_US) {
        us = (float)LS_SERVO_MAX_US;
    }
    uint16_t counts = (uint16_t)(us * 2.0f);
    if (channel == 0) {
        OCR1A = counts;
        TCCR1A |= _BV(COM1A1); /* the pulse starts with the first command */
    } else if (channel == 1) {
        OCR1B = counts;
        TCCR1A |= _BV(COM1B1);
    }
}

/* ------------------------------------------------------------------- battery */
static uint16_t hal_read_battery(void *ctx)
{
    (void)ctx;
    float mv = (float)analogRead(LS_PIN_BATTERY) * (LS_ADC_REF_MV / 1023.0f) * LS_BATTERY_DIVIDER;
    return mv > 65535.0f ? 65535u : (uint16_t)mv;
}

ls_hal_t rover_hal = {
    0, hal_set_motors, hal_read_encoders, hal_read_imu, hal_read_battery, hal_set_servo, 0,
};

void rover_hal_begin(void)
{
    /* Motors first, braked: the driver pins are inputs (floating) until here. */
    pinMode(LS_PIN_LEFT_IN1, OUTPUT);
    pinMode(LS_PIN_LEFT_IN2, OUTPUT);
    pinMode(LS_PIN_RIGHT_IN1, OUTPUT);
    pinMode(LS_PIN_RIGHT_IN2, OUTPUT);
    pinMode(LS_PIN_LEFT_PWM, OUTPUT);
    pinMode(LS_PIN_RIGHT_PWM, OUTPUT);
    hal_set_motors(0, 0.0f, 0.0f, 1);
#ifdef LS_MOTOR_DRIVER_TB6612
    pinMode(LS_PIN_MOTOR_STBY, OUTPUT);
    digitalWrite(LS_PIN_MOTOR_STBY, HIGH);
#endif

    pinMode(LS_PIN_LEFT_ENC_A, INPUT_PULLUP);
    pinMode(LS_PIN_LEFT_ENC_B, INPUT_PULLUP);
    pinMode(LS_PIN_RIGHT_ENC_A, INPUT_PULLUP);
    pinMode(LS_PIN_RIGHT_ENC_B, INPUT_PULLUP);
    g_enc_prev = enc_state(LS_ENC_PIN_REG);
    LS_ENC_PCMSK |= LS_ENC_PCMSK_BITS;
    PCICR |= _BV(LS_ENC_PCICR_BIT);

    pinMode(LS_PIN_SERVO0, OUTPUT);
    pinMode(LS_PIN_SERVO1, OUTPUT);
    TCCR1A = _BV(WGM11);
    TCCR1B = _BV(WGM13) | _BV(WGM12) | _BV(CS11);
    ICR1 = 39999u;

    Wire.begin();
    Wire.setClock(LS_I2C_HZ);
    Wire.setWireTimeout(LS_I2C_TIMEOUT_US, true);
    imu_init();
}
