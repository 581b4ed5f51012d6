/* Calibration defaults shared by every board; a board header may define any of them
 * first. Each one is a measurement to settle on the real rover (README.md, "Calibrate"). */
#ifndef LS_BOARD_COMMON_H
#define LS_BOARD_COMMON_H

#define LS_BAUD 115200UL

/* +1 or -1: flip a side whose wheel turns backwards on a forward command. */
#ifndef LS_LEFT_MOTOR_SIGN
#define LS_LEFT_MOTOR_SIGN 1
#endif
#ifndef LS_RIGHT_MOTOR_SIGN
#define LS_RIGHT_MOTOR_SIGN 1
#endif
/* +1 or -1: flip a side whose count falls while its wheel rolls forward. */
#ifndef LS_LEFT_ENCODER_SIGN
#define LS_LEFT_ENCODER_SIGN 1
#endif
#ifndef LS_RIGHT_ENCODER_SIGN
#define LS_RIGHT_ENCODER_SIGN 1
#endif

/* MPU-6050 axes into the body frame (x forward, y left, z up): which sensor axis (0 x,
 * 1 y, 2 z) and sign gives each body axis. Default: chip x forward, z up. */
#ifndef LS_IMU_AXIS_X
#define LS_IMU_AXIS_X 0
#define LS_IMU_SIGN_X 1
#define LS_IMU_AXIS_Y 1
#define LS_IMU_SIGN_Y 1
#define LS_IMU_AXIS_Z 2
#define LS_IMU_SIGN_Z 1
#endif
#define LS_IMU_I2C_ADDR 0x68      /* AD0 low */
#define LS_I2C_HZ 400000UL
#define LS_I2C_TIMEOUT_US 3000UL  /* a stuck bus resets the TWI and flags IMU_FAULT */

/* Hobby servo pulse: centre (0 rad) and microseconds per radian, clamped to a range. */
#ifndef LS_SERVO_CENTER_US
#define LS_SERVO_CENTER_US 1500
#endif
#ifndef LS_SERVO_US_PER_RAD
#define LS_SERVO_US_PER_RAD 637   /* 1000 us over 90 degrees */
#endif
#define LS_SERVO_MIN_US 500
#define LS_SERVO_MAX_US 2500

/* Battery divider: pack mV = ADC mV * ratio (20 k over 10 k gives 3), ADC reference. */
#ifndef LS_BATTERY_DIVIDER
#define LS_BATTERY_DIVIDER 3.0f
#endif
#ifndef LS_ADC_REF_MV
#define LS_ADC_REF_MV 5000.0f
#endif

/* The AVR watchdog resets a main loop that stalls this long (the rover reboots braked). */
#define LS_AVR_WDT WDTO_120MS

/* EEPROM: boot counter for the boot id. */
#define LS_EEPROM_BOOT_COUNT_ADDR 0

#endif
