/* The virtual rover: the firmware core on this machine, with a DC motor and encoder
 * model behind its hardware layer, talking over a pseudo-terminal.
 *
 * Prints the slave device path on the first line of stdout, then runs until SIGTERM or
 * SIGINT. Options:
 *   --log FILE            applied setpoints, commands, watchdog trips and wheel stops as
 *                         JSON lines
 *   --link PATH           also create a symlink PATH -> slave device (a stable name)
 *   --boot-id N           boot id reported in HELLO (default: from the clock and pid)
 *   --reset-cause N       reset cause reported in HELLO (default 1, power-on)
 *   --schema-hash HEX     pretend to be firmware with another message table
 *   --gravity MPS2        accelerometer z at rest (default 9.80665, a lab on Earth)
 *   --no-load-radps W     motor no-load wheel speed (default 13.6)
 *   --ticks-per-rev N     encoder counts per wheel revolution (default 1496)
 *   --plant-fd FD         firmware in the loop: the wheels and IMU of a simulated rover
 *                         over the datagram socket FD (plant_channel.h) replace the model
 * POSIX only (posix_openpt, poll, clock_gettime). */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "ls_firmware.h"
#include "motor_model.h"
#include "plant_channel.h"

typedef struct {
    double omega[2]; /* wheel speed, rad/s */
    double angle[2]; /* wheel angle, rad */
    double duty[2];
    int brake;
    double servo_rad[2];
    double no_load_radps;
    double ticks_per_rev;
    double gravity_mps2;
    double prev_v_mps;
    double accel_x_mps2;
    int moving;
    FILE *log;
    uint32_t now_ms;
    plant_channel_t *channel; /* firmware in the loop; NULL: the motor model */
    uint8_t servo_bits;
} model_t;


static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void model_step(model_t *m, double dt)
{
    int i;
    for (i = 0; i < 2; ++i) {
        double w = motor_omega_step(m->omega[i], m->duty[i], m->no_load_radps, m->brake, dt);
        m->omega[i] = w;
        m->angle[i] += w * dt;
    }
    {
        double v = 0.5 * (m->omega[0] + m->omega[1]) * WHEEL_RADIUS_M;
        m->accel_x_mps2 = (v - m->prev_v_mps) / dt;
        m->prev_v_mps = v;
    }
    if (m->log != NULL) {
        int moving = m->omega[0] != 0.0 || m->omega[1] != 0.0;
        if (moving != m->moving) {
            fprintf(m->log, "{\"t_ms\":%lu,\"event\":\"%s\"}\n", (unsigned long)m->now_ms,
                    moving ? "wheels_moving" : "wheels_stopped");
            fflush(m->log);
            m->moving = moving;
        }
    }
}

/* Firmware in the loop: the simulated rover's wheel angles and IMU in, the motor and
 * servo outputs out, once per millisecond of the rover's clock. */
static void plant_step(model_t *m)
{
    double servo[2];
    plant_channel_poll(m->channel);
    if (m->channel->have_input) {
        m->angle[0] = m->channel->wheel_rad[0];
        m->angle[1] = m->channel->wheel_rad[1];
    }
    servo[0] = m->servo_rad[0];
    servo[1] = m->servo_rad[1];
    plant_channel_send(m->channel, m->now_ms, m->duty, m->brake, servo, m->servo_bits);
}

/* ------------------------------------------------------------ hardware layer */
static void hal_set_motors(void *ctx, float l, float r, int brake)
{
    model_t *m = (model_t *)ctx;
    m->duty[0] = l;
    m->duty[1] = r;
    m->brake = brake;
}

static void hal_read_encoders(void *ctx, int32_t *l, int32_t *r)
{
    model_t *m = (model_t *)ctx;
    /* A 32-bit hardware counter wraps: reduce modulo 2^32 (converting an out-of-range
     * double straight to int32_t would be undefined behaviour). */
    *l = (int32_t)(uint32_t)(int64_t)floor(m->angle[0] * m->ticks_per_rev / (2.0 * M_PI));
    *r = (int32_t)(uint32_t)(int64_t)floor(m->angle[1] * m->ticks_per_rev / (2.0 * M_PI));
}

static int hal_read_imu(void *ctx, float gyro[3], float accel[3])
{
    model_t *m = (model_t *)ctx;
    double vl = m->omega[0] * WHEEL_RADIUS_M;
    if (m->channel != NULL) {
        int i;
        for (i = 0; i < 3; ++i) {
            gyro[i] = m->channel->gyro_radps[i];
            accel[i] = m->channel->accel_mps2[i];
        }
        return m->channel->have_input ? 0 : -1;
    }
    double vr = m->omega[1] * WHEEL_RADIUS_M;
    gyro[0] = 0.0f;
    gyro[1] = 0.0f;
    gyro[2] = (float)((vr - vl) / (TRACK_M * TRACK_FACTOR));
    accel[0] = (float)m->accel_x_mps2;
    accel[1] = 0.0f;
    accel[2] = (float)m->gravity_mps2;
    return 0;
}

static uint16_t hal_read_battery(void *ctx)
{
    model_t *m = (model_t *)ctx;
    double sag = 300.0 * (fabs(m->duty[0]) + fabs(m->duty[1]));
    return (uint16_t)(7800.0 - sag); /* 2S LiPo near full, sagging under load */
}

static void hal_set_servo(void *ctx, uint8_t ch, float rad)
{
    model_t *m = (model_t *)ctx;
    if (ch < 2) {
        m->servo_rad[ch] = rad;
        m->servo_bits = (uint8_t)(m->servo_bits | (1u << ch));
    }
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

static void hal_on_event(void *ctx, const ls_event_t *ev)
{
    model_t *m = (model_t *)ctx;
    FILE *f = m->log;
    unsigned long t = (unsigned long)ev->now_ms;
    if (f == NULL) {
        return;
    }
    switch (ev->kind) {
    case LS_EV_SETPOINT:
        fprintf(f,
                "{\"t_ms\":%lu,\"event\":\"setpoint\",\"session\":%u,\"counter\":%lu,"
                "\"linear_mmps\":%ld,\"angular_mradps\":%ld}\n",
                t, (unsigned)ev->session, (unsigned long)ev->counter, (long)ev->a, (long)ev->b);
        break;
    case LS_EV_COMMAND:
        fprintf(f,
                "{\"t_ms\":%lu,\"event\":\"command\",\"type\":\"%s\",\"session\":%u,"
                "\"cmd_id\":%u,\"status\":%u,\"a\":%ld,\"b\":%ld,\"value\":%.9g}\n",
                t, cmd_name(ev->msg_type), (unsigned)ev->session, (unsigned)ev->cmd_id,
                (unsigned)ev->status, (long)ev->a, (long)ev->b, (double)ev->value);
        break;
    case LS_EV_WATCHDOG:
        fprintf(f, "{\"t_ms\":%lu,\"event\":\"watchdog\",\"session\":%u,\"counter\":%lu}\n", t,
                (unsigned)ev->session, (unsigned long)ev->counter);
        break;
    case LS_EV_SESSION:
        fprintf(f, "{\"t_ms\":%lu,\"event\":\"session\",\"session\":%u}\n", t,
                (unsigned)ev->session);
        break;
    default:
        break;
    }
    fflush(f);
}

static int open_pty(char *path, size_t cap, int *slave_out)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    const char *name;
    int slave;
    struct termios tio;
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        perror("virtual_rover: posix_openpt");
        return -1;
    }
    name = ptsname(master);
    if (name == NULL || strlen(name) + 1 > cap) {
        perror("virtual_rover: ptsname");
        return -1;
    }
    strcpy(path, name);
    /* Hold the slave open ourselves, raw: the master then never reads EIO while the host
     * is away, and what we write is not echoed back to us. */
    slave = open(path, O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &tio) != 0) {
        perror("virtual_rover: open slave");
        return -1;
    }
    cfmakeraw(&tio);
    cfsetispeed(&tio, B115200);
    cfsetospeed(&tio, B115200);
    tcsetattr(slave, TCSANOW, &tio);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    *slave_out = slave;
    return master;
}

/* Command-line numbers: the whole string must parse and lie in [lo, hi]. */
static int parse_ulong(const char *opt, const char *v, int base, unsigned long hi,
                       unsigned long *out)
{
    char *end = NULL;
    unsigned long x;
    errno = 0;
    x = strtoul(v, &end, base);
    if (errno != 0 || end == v || *end != '\0' || x > hi || v[0] == '-') {
        fprintf(stderr, "virtual_rover: %s %s: expected an integer up to %lu\n", opt, v, hi);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    double x;
    errno = 0;
    x = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(x >= lo && x <= hi)) {
        fprintf(stderr, "virtual_rover: %s %s: expected a number in [%g, %g]\n", opt, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

/* Move queued bytes into the pty without ever blocking (the UART interrupt's job). */
static void flush_tx(int master, ls_fw_t *fw)
{
    const uint8_t *out;
    size_t n_out = ls_fw_tx_peek(fw, &out);
    while (n_out > 0) {
        ssize_t w = write(master, out, n_out);
        if (w <= 0) {
            break; /* the tty is full: keep the bytes */
        }
        ls_fw_tx_consume(fw, (size_t)w);
        n_out = ls_fw_tx_peek(fw, &out);
    }
}

int main(int argc, char **argv)
{
    model_t m;
    ls_hal_t hal;
    ls_fw_t fw;
    char path[256];
    const char *link = NULL;
    const char *log_path = NULL;
    uint32_t boot_id = 0;
    int have_boot_id = 0;
    unsigned reset_cause = LS_RESET_POWER_ON;
    unsigned long schema = 0;
    int have_schema = 0;
    int master;
    int slave;
    int i;
    unsigned long ul;
    uint32_t last_ms;
    plant_channel_t channel;

    memset(&m, 0, sizeof m);
    m.no_load_radps = 13.6;    /* JGA25-370 130 rpm, as launch/rovers/lab_rover.yaml */
    m.ticks_per_rev = 1496.0;  /* 11 PPR x 4 x 34:1, as lab_rover.yaml */
    m.gravity_mps2 = 9.80665;  /* standard gravity: the lab rover runs on Earth */
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "virtual_rover: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--log") == 0) {
            log_path = v;
        } else if (strcmp(a, "--link") == 0) {
            link = v;
        } else if (strcmp(a, "--boot-id") == 0) {
            if (!parse_ulong(a, v, 0, 0xFFFFFFFFul, &ul)) {
                return 2;
            }
            boot_id = (uint32_t)ul;
            have_boot_id = 1;
        } else if (strcmp(a, "--reset-cause") == 0) {
            if (!parse_ulong(a, v, 0, 255ul, &ul)) {
                return 2;
            }
            reset_cause = (unsigned)ul;
        } else if (strcmp(a, "--schema-hash") == 0) {
            if (!parse_ulong(a, v, 16, 0xFFFFFFFFul, &schema)) {
                return 2;
            }
            have_schema = 1;
        } else if (strcmp(a, "--gravity") == 0) {
            if (!parse_double(a, v, 0.0, 100.0, &m.gravity_mps2)) {
                return 2;
            }
        } else if (strcmp(a, "--no-load-radps") == 0) {
            if (!parse_double(a, v, 0.1, 1000.0, &m.no_load_radps)) {
                return 2;
            }
        } else if (strcmp(a, "--plant-fd") == 0) {
            if (!parse_ulong(a, v, 10, 1023ul, &ul)) {
                return 2;
            }
            plant_channel_open(&channel, (int)ul);
            m.channel = &channel;
        } else if (strcmp(a, "--ticks-per-rev") == 0) {
            if (!parse_double(a, v, 1.0, 1.0e6, &m.ticks_per_rev)) {
                return 2;
            }
        } else {
            fprintf(stderr, "virtual_rover: unknown option %s\n", a);
            return 2;
        }
        ++i;
    }
    if (log_path != NULL) {
        m.log = fopen(log_path, "w");
        if (m.log == NULL) {
            perror("virtual_rover: --log");
            return 2;
        }
    }
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* do not outlive the process that started us */
#endif
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    master = open_pty(path, sizeof path, &slave);
    if (master < 0) {
        return 1;
    }
    if (link != NULL) {
        unlink(link);
        if (symlink(path, link) != 0) {
            perror("virtual_rover: --link");
            return 1;
        }
    }
    if (!have_boot_id) {
        boot_id = now_ms() * 2654435761u ^ (uint32_t)getpid();
    }
    hal.ctx = &m;
    hal.set_motors = hal_set_motors;
    hal.read_encoders = hal_read_encoders;
    hal.read_imu = hal_read_imu;
    hal.read_battery_mv = hal_read_battery;
    hal.set_servo = hal_set_servo;
    hal.on_event = hal_on_event;
    last_ms = now_ms();
    m.now_ms = last_ms;
    ls_fw_init(&fw, &hal, boot_id, (uint8_t)reset_cause, last_ms);
    if (have_schema) {
        fw.schema_hash = (uint32_t)schema;
    }
    printf("%s\n", path);
    fflush(stdout);

    while (!g_stop) {
        struct pollfd pfd;
        uint8_t buf[256];
        const uint8_t *out;
        size_t n_out;
        uint32_t t;
        pfd.fd = master;
        pfd.events = POLLIN;
        pfd.revents = 0;
        n_out = ls_fw_tx_peek(&fw, &out);
        if (n_out > 0) {
            pfd.events |= POLLOUT;
        }
        poll(&pfd, 1, 1);
        t = now_ms();
        /* Firmware and physics advance together in 1 ms steps, as on a microcontroller
         * that is never descheduled: if this process was held off the CPU, the missed
         * milliseconds are replayed (watchdog included) before the bytes that arrived
         * meanwhile are handled, so the rover's own clock stays faithful under load. */
        while ((uint32_t)(t - last_ms) > 0) {
            ++last_ms;
            m.now_ms = last_ms;
            ls_fw_tick(&fw, last_ms);
            flush_tx(master, &fw);
            if (m.channel != NULL) {
                plant_step(&m);
            } else {
                model_step(&m, 1e-3);
            }
        }
        if (pfd.revents & POLLIN) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                ls_fw_receive(&fw, buf, (size_t)n, t);
            }
        }
        ls_fw_tick(&fw, t);
        flush_tx(master, &fw);
    }
    if (link != NULL) {
        unlink(link);
    }
    if (m.log != NULL) {
        fclose(m.log);
    }
    close(slave);
    close(master);
    return 0;
}
