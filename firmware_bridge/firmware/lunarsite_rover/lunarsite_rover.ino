/* lunarsite reference firmware for AVR Arduinos (Uno, Mega 2560).
 *
 * The portable core (ls_firmware.c: protocol, sessions, command watchdog, mixing, wheel
 * control, odometry) does the work; this sketch gives it a board: the UART, a millisecond
 * clock, the hardware layer (rover_hal.cpp), the AVR watchdog behind the command
 * watchdog, the reset cause and a boot id from EEPROM in HELLO, and idle sleep.
 *
 * Build it with `lunarsite firmware build --board uno|mega` (it stages this folder with
 * the core's ls_*.c/h files). Debug channels for the emulator (no effect on a board):
 * each event the core applies is written byte by byte to GPIOR0, and GPIOR1 marks the
 * main loop (1 = awake and working, 2 = about to sleep), so the simavr host can log
 * events and measure the loop in cycles. */
#include <Arduino.h>
#include <avr/eeprom.h>
#include <avr/sleep.h>
#include <avr/wdt.h>

#include "board.h"
#include "ls_firmware.h"
#include "rover_hal.h"

static ls_fw_t g_fw;

/* The reset flags, saved before anything clears them. Optiboot (the Uno's bootloader)
 * clears MCUSR and hands its value over in r2. */
static uint8_t g_mcusr __attribute__((section(".noinit")));
void ls_save_reset_flags(void) __attribute__((naked, used, section(".init3")));
void ls_save_reset_flags(void)
{
    __asm__ __volatile__("sts %0, r2\n" : : "i"(&g_mcusr) : "memory");
    if (MCUSR != 0) {
        g_mcusr = MCUSR;
    }
    MCUSR = 0;
    wdt_disable(); /* after a watchdog reset the watchdog stays on: off until setup() */
}

static uint8_t reset_cause(uint8_t flags)
{
    if (flags & _BV(WDRF)) {
        return LS_RESET_WATCHDOG;
    }
    if (flags & _BV(BORF)) {
        return LS_RESET_BROWN_OUT;
    }
    if (flags & _BV(EXTRF)) {
        return LS_RESET_EXTERNAL;
    }
    if (flags & _BV(PORF)) {
        return LS_RESET_POWER_ON;
    }
    return LS_RESET_UNKNOWN;
}

/* A new boot id each boot: a counter in EEPROM, scrambled so ids look unrelated. */
static uint32_t next_boot_id(void)
{
    uint32_t *addr = (uint32_t *)LS_EEPROM_BOOT_COUNT_ADDR;
    uint32_t n = eeprom_read_dword(addr) + 1u;
    eeprom_update_dword(addr, n);
    return n * 2654435761u ^ 0x5A5A0000u;
}

static void put_le(uint32_t v, uint8_t n)
{
    while (n--) {
        GPIOR0 = (uint8_t)v;
        v >>= 8;
    }
}

/* 27 bytes per event: kind, type, status, session, cmd_id, counter, a, b, value, t_ms. */
static void on_event(void *ctx, const ls_event_t *ev)
{
    uint32_t value_bits;
    (void)ctx;
    memcpy(&value_bits, &ev->value, sizeof value_bits);
    GPIOR0 = ev->kind;
    GPIOR0 = ev->msg_type;
    GPIOR0 = ev->status;
    put_le(ev->session, 2);
    put_le(ev->cmd_id, 2);
    put_le(ev->counter, 4);
    put_le((uint32_t)ev->a, 4);
    put_le((uint32_t)ev->b, 4);
    put_le(value_bits, 4);
    put_le(ev->now_ms, 4);
}

void setup()
{
    uint8_t cause = reset_cause(g_mcusr);
    rover_hal.on_event = on_event;
    rover_hal_begin(); /* motors braked first */
    Serial.begin(LS_BAUD);
    ls_fw_init(&g_fw, &rover_hal, next_boot_id(), cause, millis());
    wdt_enable(LS_AVR_WDT);
    set_sleep_mode(SLEEP_MODE_IDLE);
}

void loop()
{
    GPIOR1 = 1;
    wdt_reset();
    uint8_t buf[16];
    size_t n = 0;
    while (n < sizeof buf && Serial.available() > 0) {
        buf[n++] = (uint8_t)Serial.read();
    }
    uint32_t now = millis();
    if (n > 0) {
        ls_fw_receive(&g_fw, buf, n, now);
    }
    ls_fw_tick(&g_fw, now);
    /* Move queued bytes into the UART's buffer, never more than fits (never block). */
    const uint8_t *out;
    size_t queued = ls_fw_tx_peek(&g_fw, &out);
    int room = Serial.availableForWrite();
    if (queued > 0 && room > 0) {
        size_t k = queued < (size_t)room ? queued : (size_t)room;
        Serial.write(out, k);
        ls_fw_tx_consume(&g_fw, k);
    }
    if (Serial.available() > 0 || n == sizeof buf) {
        return; /* more bytes already waiting: no sleep */
    }
    /* Idle until the next interrupt: the 1 ms timer, a received byte, an encoder edge or
     * the UART wanting data. Interrupts stay off from the check to the sleep. */
    GPIOR1 = 2;
    cli();
    if (Serial.available() == 0) {
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    sei();
}
