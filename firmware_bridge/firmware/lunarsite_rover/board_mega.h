/* Arduino Mega 2560 (ATmega2560, 16 MHz): pin map and calibration defaults.
 *
 * Motor driver: L298N (a TB6612 wires the same way, plus STBY). Encoders: quadrature
 * A/B on port K pin-change interrupts (A8..A11, PCINT2). IMU: MPU-6050 on I2C (D20 SDA,
 * D21 SCL). Servos: Timer1 outputs OC1A (D11) and OC1B (D12). Battery: divider into A0.
 * The host link is USART0 (D0/D1, the USB bridge). See README.md for the wiring table. */
#ifndef LS_BOARD_MEGA_H
#define LS_BOARD_MEGA_H

#define LS_BOARD_NAME "mega"

#ifndef LS_MOTOR_DRIVER_TB6612
#define LS_MOTOR_DRIVER_L298N 1
#endif

/* Left motor (L298N ENA, IN1, IN2). */
#define LS_PIN_LEFT_PWM 5   /* OC3A, Timer3 ~490 Hz */
#define LS_PIN_LEFT_IN1 22
#define LS_PIN_LEFT_IN2 23
/* Right motor (L298N ENB, IN3, IN4). */
#define LS_PIN_RIGHT_PWM 6  /* OC4A, Timer4 */
#define LS_PIN_RIGHT_IN1 24
#define LS_PIN_RIGHT_IN2 25
#define LS_PIN_MOTOR_STBY 26 /* TB6612 STBY if one is fitted instead */

/* Encoders: A8..A11 = PK0..PK3, one pin-change vector. */
#define LS_PIN_LEFT_ENC_A A8   /* PK0, PCINT16 */
#define LS_PIN_LEFT_ENC_B A9   /* PK1, PCINT17 */
#define LS_PIN_RIGHT_ENC_A A10 /* PK2, PCINT18 */
#define LS_PIN_RIGHT_ENC_B A11 /* PK3, PCINT19 */
#define LS_ENC_PIN_REG PINK
#define LS_ENC_LEFT_A_BIT 0
#define LS_ENC_LEFT_B_BIT 1
#define LS_ENC_RIGHT_A_BIT 2
#define LS_ENC_RIGHT_B_BIT 3
#define LS_ENC_PCICR_BIT PCIE2
#define LS_ENC_PCMSK PCMSK2
#define LS_ENC_PCMSK_BITS (_BV(PCINT16) | _BV(PCINT17) | _BV(PCINT18) | _BV(PCINT19))
#define LS_ENC_VECTOR PCINT2_vect

/* Servos on Timer1: channel 0 OC1A = D11, channel 1 OC1B = D12. */
#define LS_PIN_SERVO0 11
#define LS_PIN_SERVO1 12

#define LS_PIN_BATTERY A0

#include "board_common.h"
#endif
