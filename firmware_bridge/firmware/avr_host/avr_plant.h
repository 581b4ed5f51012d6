/* The rover around the emulated AVR: reads the motor driver's PWM and direction pins and
 * the servo timer, drives the quadrature encoder pins, answers as an MPU-6050 on the I2C
 * bus and feeds the battery divider's ADC input. The wheels are either the DC motor model
 * here or, in firmware-in-the-loop mode, a simulated rover reached through a plant
 * channel (see plant_channel.h). */
#ifndef LS_AVR_PLANT_H
#define LS_AVR_PLANT_H

#include <stdint.h>
#include <stdio.h>

#include <simavr/sim_avr.h>
#include <simavr/sim_irq.h>

#include "plant_channel.h"

typedef struct {
    uint16_t port;  /* data-space address of PORTx */
    uint8_t bit;
} pin_t;

typedef struct {
    uint16_t tccr;  /* timer control register holding the compare output mode */
    uint8_t com_bit;
    uint16_t ocr;   /* compare register (low byte) */
    pin_t pin;      /* the pin itself, for analogWrite's 0 and 255 */
} pwm_t;

/* What the board header (lunarsite_rover/board_*.h) wires where. */
typedef struct {
    const char *mcu;
    pwm_t pwm[2];
    pin_t in1[2];
    pin_t in2[2];
    char enc_port;
    uint8_t enc_bit[4]; /* left A, left B, right A, right B */
    uint16_t tccr1a, ocr1a, ocr1b;
    uint8_t com1a_bit, com1b_bit;
} board_pins_t;

const board_pins_t *board_by_mcu(const char *mcu);

typedef struct plant {
    avr_t *avr;
    const board_pins_t *pins;
    /* Wheel state: angle and speed per side (rad, rad/s). */
    double omega[2], angle[2];
    double duty[2];
    int brake;
    double servo_rad[2];
    double no_load_radps, ticks_per_rev, gravity_mps2;
    double prev_v_mps, accel_x_mps2;
    /* Encoders: the count the wheel angle gives, and the count the pins show. */
    int64_t enc_target[2], enc_shown[2];
    avr_irq_t *enc_irq[4];
    /* MPU-6050. */
    avr_irq_t *twi_irq;
    uint8_t mpu_selected, mpu_reg, mpu_index;
    uint8_t mpu_regs[128];
    double gyro_radps[3], accel_mps2[3];
    avr_irq_t *adc_irq;
    int moving;
    FILE *log;
    uint32_t now_ms;
    plant_channel_t *channel; /* NULL: the DC motor model drives the wheels */
} plant_t;

int plant_init(plant_t *p, avr_t *avr, const board_pins_t *pins);
/* One millisecond of simulated time: read the outputs, move the wheels, set the inputs. */
void plant_step_ms(plant_t *p);

#endif
