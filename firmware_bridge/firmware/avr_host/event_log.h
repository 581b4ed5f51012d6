/* The firmware's event log, read from its GPIOR0 debug channel (27 bytes per event, see
 * lunarsite_rover.ino) and written as the virtual rover's JSON lines. */
#ifndef LS_EVENT_LOG_H
#define LS_EVENT_LOG_H

#include <stdint.h>
#include <stdio.h>

#define EVENT_BYTES 27

typedef struct {
    FILE *out;
    uint8_t buf[EVENT_BYTES];
    unsigned len;
} event_log_t;

void event_log_init(event_log_t *e, FILE *out);
void event_log_byte(event_log_t *e, uint8_t byte);

#endif
