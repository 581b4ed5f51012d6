/* The firmware's event log: see event_log.h. */
#include "event_log.h"

#include <string.h>

#include "ls_firmware.h"

static uint32_t le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    while (n--) {
        v = (v << 8) | p[n];
    }
    return v;
}

static const char *cmd_name(uint8_t t)
{
    switch (t) {
    case LS_MSG_CMD_SERVO: return "servo";
    case LS_MSG_CMD_MODE: return "mode";
    case LS_MSG_CMD_STOP: return "stop";
    case LS_MSG_CMD_STOP_RESET: return "stop_reset";
    case LS_MSG_CMD_PARAM_SET: return "param_set";
    default: return "unknown";
    }
}

void event_log_init(event_log_t *e, FILE *out)
{
    memset(e, 0, sizeof *e);
    e->out = out;
}

void event_log_byte(event_log_t *e, uint8_t byte)
{
    const uint8_t *b = e->buf;
    unsigned long t;
    unsigned session, cmd_id;
    unsigned long counter;
    long a, bb;
    float value;
    uint32_t bits;
    e->buf[e->len++] = byte;
    if (e->len < EVENT_BYTES) {
        return;
    }
    e->len = 0;
    if (e->out == NULL) {
        return;
    }
    session = (unsigned)le(&b[3], 2);
    cmd_id = (unsigned)le(&b[5], 2);
    counter = (unsigned long)le(&b[7], 4);
    a = (long)(int32_t)le(&b[11], 4);
    bb = (long)(int32_t)le(&b[15], 4);
    bits = le(&b[19], 4);
    memcpy(&value, &bits, sizeof value);
    t = (unsigned long)le(&b[23], 4);
    switch (b[0]) {
    case LS_EV_SETPOINT:
        fprintf(e->out,
                "{\"t_ms\":%lu,\"event\":\"setpoint\",\"session\":%u,\"counter\":%lu,"
                "\"linear_mmps\":%ld,\"angular_mradps\":%ld}\n",
                t, session, counter, a, bb);
        break;
    case LS_EV_COMMAND:
        fprintf(e->out,
                "{\"t_ms\":%lu,\"event\":\"command\",\"type\":\"%s\",\"session\":%u,"
                "\"cmd_id\":%u,\"status\":%u,\"a\":%ld,\"b\":%ld,\"value\":%.9g}\n",
                t, cmd_name(b[1]), session, cmd_id, (unsigned)b[2], a, bb, (double)value);
        break;
    case LS_EV_WATCHDOG:
        fprintf(e->out, "{\"t_ms\":%lu,\"event\":\"watchdog\",\"session\":%u,\"counter\":%lu}\n",
                t, session, counter);
        break;
    case LS_EV_SESSION:
        fprintf(e->out, "{\"t_ms\":%lu,\"event\":\"session\",\"session\":%u}\n", t, session);
        break;
    default:
        fprintf(e->out, "{\"t_ms\":%lu,\"event\":\"unknown\",\"kind\":%u}\n", t, (unsigned)b[0]);
        break;
    }
    fflush(e->out);
}
