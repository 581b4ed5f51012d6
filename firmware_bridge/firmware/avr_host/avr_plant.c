/* The rover around the emulated AVR: see avr_plant.h. */
#define _DEFAULT_SOURCE
#include "avr_plant.h"
#include "motor_model.h"

#include <math.h>
#include <string.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_twi.h>
#include <simavr/sim_cycle_timers.h>
#include <simavr/sim_io.h>

/* Data-space register addresses (avr-libc io headers). */
static const board_pins_t k_boards[] = {
    {
        "atmega328p",
        /* D5 = OC0B (PD5), D6 = OC0A (PD6): TCCR0A 0x44, OCR0A 0x47, OCR0B 0x48. */
        {{0x44, 5, 0x48, {0x2B, 5}}, {0x44, 7, 0x47, {0x2B, 6}}},
        {{0x25, 0}, {0x25, 4}}, /* IN1: D8 = PB0, D12 = PB4 */
        {{0x25, 3}, {0x25, 5}}, /* IN2: D11 = PB3, D13 = PB5 */
        'D',
        {2, 3, 4, 7},
        0x80, 0x88, 0x8A, 7, 5,
    },
    {
        "atmega2560",
        /* D5 = OC3A (PE3): TCCR3A 0x90, OCR3AL 0x98; D6 = OC4A (PH3): TCCR4A 0xA0,
         * OCR4AL 0xA8. PORTE 0x2E, PORTH 0x102. */
        {{0x90, 7, 0x98, {0x2E, 3}}, {0xA0, 7, 0xA8, {0x102, 3}}},
        {{0x22, 0}, {0x22, 2}}, /* IN1: D22 = PA0, D24 = PA2 */
        {{0x22, 1}, {0x22, 3}}, /* IN2: D23 = PA1, D25 = PA3 */
        'K',
        {0, 1, 2, 3},
        0x80, 0x88, 0x8A, 7, 5,
    },
};

const board_pins_t *board_by_mcu(const char *mcu)
{
    size_t i;
    for (i = 0; i < sizeof k_boards / sizeof k_boards[0]; ++i) {
        if (strcmp(k_boards[i].mcu, mcu) == 0) {
            return &k_boards[i];
        }
    }
    return NULL;
}

#define ENCODER_EDGE_US 40 /* at most one edge per wheel this often (25 kHz) */
#define MPU_ADDR 0x68

static int pin_high(const plant_t *p, pin_t pin)
{
    return (p->avr->data[pin.port] >> pin.bit) & 1u;
}

static double pwm_duty(const plant_t *p, const pwm_t *w)
{
    if (p->avr->data[w->tccr] & (1u << w->com_bit)) {
        return (double)p->avr->data[w->ocr] / 255.0;
    }
    return pin_high(p, w->pin) ? 1.0 : 0.0; /* analogWrite(0) and (255) set the pin */
}

static void read_outputs(plant_t *p)
{
    int i;
    const board_pins_t *b = p->pins;
    int braked = 0;
    for (i = 0; i < 2; ++i) {
        int a = pin_high(p, b->in1[i]);
        int c = pin_high(p, b->in2[i]);
        double d = pwm_duty(p, &b->pwm[i]);
        if (a && c) {
            braked = 1; /* short brake */
            p->duty[i] = 0.0;
        } else if (a) {
            p->duty[i] = d;
        } else if (c) {
            p->duty[i] = -d;
        } else {
            p->duty[i] = 0.0; /* coast */
        }
    }
    p->brake = braked;
    /* Servos: Timer1 at 0.5 us per count; 1500 us centre, 637 us per rad (board_common.h). */
    if (p->avr->data[b->tccr1a] & (1u << b->com1a_bit)) {
        uint16_t c = (uint16_t)(p->avr->data[b->ocr1a] | p->avr->data[b->ocr1a + 1] << 8);
        p->servo_rad[0] = ((double)c * 0.5 - 1500.0) / 637.0;
    }
    if (p->avr->data[b->tccr1a] & (1u << b->com1b_bit)) {
        uint16_t c = (uint16_t)(p->avr->data[b->ocr1b] | p->avr->data[b->ocr1b + 1] << 8);
        p->servo_rad[1] = ((double)c * 0.5 - 1500.0) / 637.0;
    }
}

static void motor_model_step(plant_t *p, double dt)
{
    int i;
    for (i = 0; i < 2; ++i) {
        double w = motor_omega_step(p->omega[i], p->duty[i], p->no_load_radps, p->brake, dt);
        p->omega[i] = w;
        p->angle[i] += w * dt;
    }
    {
        double v = 0.5 * (p->omega[0] + p->omega[1]) * WHEEL_RADIUS_M;
        p->accel_x_mps2 = (v - p->prev_v_mps) / dt;
        p->prev_v_mps = v;
    }
    p->gyro_radps[0] = p->gyro_radps[1] = 0.0;
    p->gyro_radps[2] = (p->omega[1] - p->omega[0]) * WHEEL_RADIUS_M / (TRACK_M * TRACK_FACTOR);
    p->accel_mps2[0] = p->accel_x_mps2;
    p->accel_mps2[1] = 0.0;
    p->accel_mps2[2] = p->gravity_mps2;
}

/* Quadrature state of a count: 00, 01, 11, 10 as (A, B), advancing forward. */
static void set_encoder_pins(plant_t *p, int side, int64_t count)
{
    static const uint8_t k_a[4] = {0, 0, 1, 1};
    static const uint8_t k_b[4] = {0, 1, 1, 0};
    unsigned s = (unsigned)(count & 3);
    avr_raise_irq(p->enc_irq[2 * side], k_a[s]);
    avr_raise_irq(p->enc_irq[2 * side + 1], k_b[s]);
}

/* One edge per wheel at a time, spaced so the pin-change interrupt sees every one. */
static avr_cycle_count_t encoder_timer(avr_t *avr, avr_cycle_count_t when, void *param)
{
    plant_t *p = (plant_t *)param;
    int i;
    (void)avr;
    for (i = 0; i < 2; ++i) {
        int64_t d = p->enc_target[i] - p->enc_shown[i];
        if (d != 0) {
            p->enc_shown[i] += d > 0 ? 1 : -1;
            set_encoder_pins(p, i, p->enc_shown[i]);
        }
    }
    return when + (avr_cycle_count_t)(p->avr->frequency / 1000000u * ENCODER_EDGE_US);
}

/* ---------------------------------------------------------------- MPU-6050 */
static void put_be16(uint8_t *r, double v)
{
    double c = v >= 0 ? v + 0.5 : v - 0.5;
    int16_t x = c > 32767.0 ? 32767 : (c < -32768.0 ? -32768 : (int16_t)c);
    r[0] = (uint8_t)((uint16_t)x >> 8);
    r[1] = (uint8_t)((uint16_t)x & 0xFFu);
}

static void mpu_update(plant_t *p)
{
    int i;
    const double a_lsb = 8192.0 / 9.80665;          /* +-4 g */
    const double g_lsb = 65.5 / 0.01745329251994;    /* +-500 deg/s */
    for (i = 0; i < 3; ++i) {
        put_be16(&p->mpu_regs[0x3B + 2 * i], p->accel_mps2[i] * a_lsb);
        put_be16(&p->mpu_regs[0x43 + 2 * i], p->gyro_radps[i] * g_lsb);
    }
    put_be16(&p->mpu_regs[0x41], 0.0); /* temperature */
}

static void twi_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
    plant_t *p = (plant_t *)param;
    avr_twi_msg_irq_t v;
    (void)irq;
    v.u.v = value;
    if (v.u.twi.msg & TWI_COND_STOP) {
        p->mpu_selected = 0;
    }
    if (v.u.twi.msg & TWI_COND_START) {
        p->mpu_selected = 0;
        p->mpu_index = 0;
        if ((v.u.twi.addr >> 1) == MPU_ADDR) {
            p->mpu_selected = v.u.twi.addr;
            avr_raise_irq(p->twi_irq + TWI_IRQ_INPUT,
                          avr_twi_irq_msg(TWI_COND_ACK, p->mpu_selected, 1));
        }
    }
    if (!p->mpu_selected) {
        return;
    }
    if (v.u.twi.msg & TWI_COND_WRITE) {
        avr_raise_irq(p->twi_irq + TWI_IRQ_INPUT,
                      avr_twi_irq_msg(TWI_COND_ACK, p->mpu_selected, 1));
        if (p->mpu_index == 0) {
            p->mpu_reg = (uint8_t)(v.u.twi.data & 0x7Fu);
        } else {
            p->mpu_regs[p->mpu_reg] = v.u.twi.data;
            p->mpu_reg = (uint8_t)((p->mpu_reg + 1u) & 0x7Fu);
        }
        p->mpu_index++;
    }
    if (v.u.twi.msg & TWI_COND_READ) {
        uint8_t d = p->mpu_regs[p->mpu_reg];
        p->mpu_reg = (uint8_t)((p->mpu_reg + 1u) & 0x7Fu);
        avr_raise_irq(p->twi_irq + TWI_IRQ_INPUT, avr_twi_irq_msg(TWI_COND_READ, p->mpu_selected, d));
    }
}

int plant_init(plant_t *p, avr_t *avr, const board_pins_t *pins)
{
    static const char *twi_names[TWI_IRQ_COUNT] = {"8>mpu.in", "8<mpu.out", "8>mpu.status"};
    int i;
    p->avr = avr;
    p->pins = pins;
    for (i = 0; i < 4; ++i) {
        p->enc_irq[i] = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(pins->enc_port), pins->enc_bit[i]);
        if (p->enc_irq[i] == NULL) {
            return -1;
        }
    }
    set_encoder_pins(p, 0, 0);
    set_encoder_pins(p, 1, 0);
    avr_cycle_timer_register_usec(avr, ENCODER_EDGE_US, encoder_timer, p);

    p->twi_irq = avr_alloc_irq(&avr->irq_pool, 0, TWI_IRQ_COUNT, twi_names);
    avr_connect_irq(p->twi_irq + TWI_IRQ_INPUT, avr_io_getirq(avr, AVR_IOCTL_TWI_GETIRQ(0), TWI_IRQ_INPUT));
    avr_connect_irq(avr_io_getirq(avr, AVR_IOCTL_TWI_GETIRQ(0), TWI_IRQ_OUTPUT), p->twi_irq + TWI_IRQ_OUTPUT);
    avr_irq_register_notify(p->twi_irq + TWI_IRQ_OUTPUT, twi_hook, p);
    p->mpu_regs[0x75] = MPU_ADDR; /* WHO_AM_I */

    p->adc_irq = avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0);
    p->accel_mps2[2] = p->gravity_mps2;
    mpu_update(p);
    return 0;
}

void plant_step_ms(plant_t *p)
{
    int i;
    read_outputs(p);
    if (p->channel != NULL) {
        plant_channel_poll(p->channel);
        if (p->channel->have_input) {
            for (i = 0; i < 2; ++i) {
                double prev = p->angle[i];
                p->angle[i] = p->channel->wheel_rad[i];
                p->omega[i] = (p->angle[i] - prev) / 1e-3;
            }
            for (i = 0; i < 3; ++i) {
                p->gyro_radps[i] = p->channel->gyro_radps[i];
                p->accel_mps2[i] = p->channel->accel_mps2[i];
            }
        }
        plant_channel_send(p->channel, p->now_ms, p->duty, p->brake, p->servo_rad,
                           (uint8_t)(((p->avr->data[p->pins->tccr1a] >> p->pins->com1a_bit) & 1u) |
                                     (((p->avr->data[p->pins->tccr1a] >> p->pins->com1b_bit) & 1u) << 1)));
    } else {
        motor_model_step(p, 1e-3);
    }
    for (i = 0; i < 2; ++i) {
        p->enc_target[i] = (int64_t)floor(p->angle[i] * p->ticks_per_rev / (2.0 * M_PI));
    }
    mpu_update(p);
    {
        /* 2S LiPo near full, sagging under load, through the 20 k / 10 k divider. */
        double pack_mv = 7800.0 - 300.0 * (fabs(p->duty[0]) + fabs(p->duty[1]));
        avr_raise_irq(p->adc_irq, (uint32_t)(pack_mv / 3.0));
    }
    if (p->log != NULL) {
        int moving = p->omega[0] != 0.0 || p->omega[1] != 0.0;
        if (moving != p->moving) {
            fprintf(p->log, "{\"t_ms\":%lu,\"event\":\"%s\"}\n", (unsigned long)p->now_ms,
                    moving ? "wheels_moving" : "wheels_stopped");
            fflush(p->log);
            p->moving = moving;
        }
    }
}
