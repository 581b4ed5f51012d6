/* The plant channel of firmware in the loop: a datagram socket shared with the process
 * that simulates the rover (lunarsite.launch's firmware-in-the-loop backend).
 *
 * To the simulator, whenever an output changes and at least every 20 ms of the rover's
 * clock, 24 bytes little-endian:
 *   u32 t_ms, f32 left_duty, f32 right_duty, f32 servo0_rad, f32 servo1_rad, u8 brake,
 *   u8 servo_active bits, u16 zero
 * (duty in [-1, 1], positive forward; brake: both motors shorted).
 * From the simulator, after each of its physics steps, 40 bytes little-endian:
 *   f64 left_wheel_rad, f64 right_wheel_rad (cumulative, positive forward),
 *   f32 gyro_x, gyro_y, gyro_z (rad/s, body frame), f32 accel_x, accel_y, accel_z (m/s^2)
 * The firmware's encoders count the wheel angles; its IMU reads the rates and forces. */
#ifndef LS_PLANT_CHANNEL_H
#define LS_PLANT_CHANNEL_H

#include <stdint.h>

#define PLANT_OUT_BYTES 24
#define PLANT_IN_BYTES 40

typedef struct plant_channel {
    int fd;
    int have_input;
    double wheel_rad[2];
    float gyro_radps[3];
    float accel_mps2[3];
    float last_out[5];
    uint32_t last_sent_ms;
    int sent_once;
    uint8_t last_servo_bits;
} plant_channel_t;

void plant_channel_open(plant_channel_t *c, int fd);
/* Take the newest sensor datagram, if any (never blocks). */
void plant_channel_poll(plant_channel_t *c);
/* Send the outputs if they changed or 20 ms passed (never blocks). */
void plant_channel_send(plant_channel_t *c, uint32_t t_ms, const double duty[2], int brake,
                        const double servo_rad[2], uint8_t servo_bits);

#endif
