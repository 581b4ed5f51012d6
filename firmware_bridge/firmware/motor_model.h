/* The wheel motor model shared by the two hosts that run the firmware without a board:
 * the host-built virtual rover and the simavr host of the AVR binary.
 *
 * First-order DC gear motor: duty u drives toward u * no-load speed with a mechanical
 * time constant; a braked (shorted) motor decays faster and gearbox friction holds it. */
#ifndef LS_MOTOR_MODEL_H
#define LS_MOTOR_MODEL_H

#include <math.h>

#define TAU_DRIVE_S 0.05
#define TAU_BRAKE_S 0.008
#define FRICTION_RADPS2 60.0
#define WHEEL_RADIUS_M 0.033
#define TRACK_M 0.185
#define TRACK_FACTOR 1.75

/* One wheel's speed (rad/s) after dt seconds from w, at duty (-1..1), or braked. */
static inline double motor_omega_step(double w, double duty, double no_load_radps, int brake,
                                      double dt)
{
    if (brake) {
        double dec = w / TAU_BRAKE_S + (w > 0 ? FRICTION_RADPS2 : -FRICTION_RADPS2);
        return fabs(dec * dt) >= fabs(w) ? 0.0 : w - dec * dt;
    }
    w += (duty * no_load_radps - w) * (dt / TAU_DRIVE_S);
    if (fabs(duty) < 0.02 && fabs(w) < FRICTION_RADPS2 * dt) {
        w = 0.0; /* below the motor's starting duty, gearbox friction holds */
    }
    return w;
}

#endif
