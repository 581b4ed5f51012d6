/* The hardware layer of the Arduino sketch: motors, encoders, IMU, servos, battery.
 * Every function returns within a bounded time (the I2C read is bounded by its bus
 * timeout). */
#ifndef LS_ROVER_HAL_H
#define LS_ROVER_HAL_H

#include <stdint.h>

#include "ls_firmware.h"

void rover_hal_begin(void);
/* The ls_hal_t the core drives; on_event is set by the sketch. */
extern ls_hal_t rover_hal;

#endif
