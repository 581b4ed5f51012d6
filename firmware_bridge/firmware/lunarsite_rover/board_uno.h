/* Arduino Uno (ATmega328P, 16 MHz): pin map and calibration defaults.
 *
 * Motor driver: TB6612FNG (an L298N wires the same way: ENA/ENB on the PWM pins, IN1..IN4
 * on the direction pins, no STBY). Encoders: quadrature A/B on port D pin-change
 * interrupts (PCINT2). IMU: MPU-6050 on I2C (A4 SDA, A5 SCL). Servos: Timer1 outputs
 * OC1A (D9) and OC1B (D10). Battery: divider into A0. See README.md for the wiring table.
 * The calibrations marked "settle on the board" can only be measured on a real rover. */
#ifndef LS_BOARD_UNO_H
#define LS_BOARD_UNO_H

#define LS_BOARD_NAME "uno"

#ifndef LS_MOTOR_DRIVER_L298N
#define LS_MOTOR_DRIVER_TB6612 1
#endif

/* Left motor (TB6612 channel A). */
#define LS_PIN_LEFT_PWM 5   /* OC0B, Timer0 fast PWM ~977 Hz */
#define LS_PIN_LEFT_IN1 8
#define LS_PIN_LEFT_IN2 11
/* Right motor (TB6612 channel B). */
#define LS_PIN_RIGHT_PWM 6  /* OC0A */
#define LS_PIN_RIGHT_IN1 12
#define LS_PIN_RIGHT_IN2 13
#define LS_PIN_MOTOR_STBY A1 /* TB6612 STBY; unused with an L298N */

/* Encoders: all four on port D, one pin-change vector. */
#define LS_PIN_LEFT_ENC_A 2   /* PD2, PCINT18 */
#define LS_PIN_LEFT_ENC_B 3   /* PD3, PCINT19 */
#define LS_PIN_RIGHT_ENC_A 4  /* PD4, PCINT20 */
#define LS_PIN_RIGHT_ENC_B 7  /* PD7, PCINT23 */
#define LS_ENC_PIN_REG PIND
#define LS_ENC_LEFT_A_BIT 2
#define LS_ENC_LEFT_B_BIT 3
#define LS_ENC_RIGHT_A_BIT 4
#define LS_ENC_RIGHT_B_BIT 7
#define LS_ENC_PCICR_BIT PCIE2
#define LS_ENC_PCMSK PCMSK2
#define LS_ENC_PCMSK_BITS (_BV(PCINT18) | _BV(PCINT19) | _BV(PCINT20) | _BV(PCINT23))
#define LS_ENC_VECTOR PCINT2_vect

/* Servos on Timer1: channel 0 (tool) OC1A = D9, channel 1 (gripper) OC1B = D10. */
#define LS_PIN_SERVO0 9
#define LS_PIN_SERVO1 10

/* Battery: A0 through a divider (20 k over 10 k: 8.4 V full 2S LiPo reads 2.8 V). */
#define LS_PIN_BATTERY A0

#include "board_common.h"
#endif
