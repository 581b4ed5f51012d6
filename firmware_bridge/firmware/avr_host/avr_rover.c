/* The AVR rover: the Arduino firmware's own binary (lunarsite_rover.ino.elf) running in
 * simavr, with its UART on a pseudo-terminal (simavr's uart_pty part) and the rover
 * around it (avr_plant.c). Prints the pty path on the first line of stdout, then runs in
 * real time until SIGTERM or SIGINT.
 *
 * Options:
 *   --firmware ELF        the firmware (required)
 *   --mcu NAME            atmega328p (Uno, default) or atmega2560 (Mega)
 *   --log FILE            the firmware's events (from its GPIOR0 debug channel) and wheel
 *                         stops as JSON lines, as the virtual rover writes them
 *   --stats FILE          at exit, JSON: cycles, sleep cycles, CPU share, worst main-loop
 *                         iteration in cycles (GPIOR1 marks), loops, watchdog resets
 *   --link PATH           also create a symlink PATH -> pty
 *   --boot-count N        EEPROM boot counter before this boot (default from the clock)
 *   --plant-fd FD         firmware in the loop: wheels and IMU from a simulator over the
 *                         datagram socket FD (plant_channel.h) instead of the motor model
 *   --ticks-per-rev N     encoder counts per wheel revolution (default 1496) */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <simavr/avr_eeprom.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_cycle_timers.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>
#include <simavr/parts/uart_pty.h>

#include "avr_plant.h"
#include "event_log.h"

#define GPIOR0_ADDR 0x3E
#define GPIOR1_ADDR 0x4A
#define MCUSR_ADDR 0x54

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct {
    plant_t plant;
    event_log_t events;
    avr_cycle_count_t sleep_cycles;
    avr_cycle_count_t loop_start;
    avr_cycle_count_t loop_max;
    uint64_t loops;
    uint8_t last_mark;
    uint32_t now_ms;
} host_t;

static host_t g_host;

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The AVR sleeps until its next interrupt: count those cycles (pacing is done outside). */
static void on_sleep(avr_t *avr, avr_cycle_count_t how_long)
{
    (void)avr;
    g_host.sleep_cycles += how_long;
}

static void on_gpior0(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
    host_t *h = (host_t *)param;
    avr->data[addr] = v;
    event_log_byte(&h->events, v);
}

/* Main-loop marks: 1 at the top of loop(), 2 just before it sleeps. */
static void on_gpior1(avr_t *avr, avr_io_addr_t addr, uint8_t v, void *param)
{
    host_t *h = (host_t *)param;
    avr->data[addr] = v;
    if (h->last_mark == 1) {
        avr_cycle_count_t span = avr->cycle - h->loop_start;
        if (span > h->loop_max) {
            h->loop_max = span;
        }
        ++h->loops;
    }
    if (v == 1) {
        h->loop_start = avr->cycle;
    }
    h->last_mark = v;
}

static avr_cycle_count_t ms_timer(avr_t *avr, avr_cycle_count_t when, void *param)
{
    host_t *h = (host_t *)param;
    ++h->now_ms;
    h->plant.now_ms = h->now_ms;
    plant_step_ms(&h->plant);
    return when + avr->frequency / 1000u;
}

static int parse_ul(const char *opt, const char *v, unsigned long hi, unsigned long *out)
{
    char *end = NULL;
    unsigned long x;
    errno = 0;
    x = strtoul(v, &end, 0);
    if (errno != 0 || end == v || *end != '\0' || x > hi || v[0] == '-') {
        fprintf(stderr, "avr_rover: %s %s: expected an integer up to %lu\n", opt, v, hi);
        return 0;
    }
    *out = x;
    return 1;
}

static void write_stats(const char *path, avr_t *avr, double wall_elapsed_s)
{
    FILE *f = fopen(path, "w");
    double cycles = (double)avr->cycle;
    if (f == NULL) {
        perror("avr_rover: --stats");
        return;
    }
    fprintf(f,
            "{\"mcu\":\"%s\",\"frequency_hz\":%lu,\"cycles\":%llu,\"sleep_cycles\":%llu,"
            "\"cpu_share\":%.4f,\"loop_max_cycles\":%llu,\"loops\":%llu,"
            "\"sim_s\":%.3f,\"wall_s\":%.3f}\n",
            avr->mmcu, (unsigned long)avr->frequency, (unsigned long long)avr->cycle,
            (unsigned long long)g_host.sleep_cycles,
            cycles > 0 ? 1.0 - (double)g_host.sleep_cycles / cycles : 0.0,
            (unsigned long long)g_host.loop_max, (unsigned long long)g_host.loops,
            cycles / (double)avr->frequency, wall_elapsed_s);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *firmware = NULL, *mcu = "atmega328p", *log_path = NULL, *stats = NULL;
    const char *link = NULL;
    unsigned long boot_count = (unsigned long)time(NULL) ^ (unsigned long)getpid();
    unsigned long plant_fd = 0, tpr = 1496;
    int have_plant = 0, i, saved_stdout;
    elf_firmware_t f;
    avr_t *avr;
    uart_pty_t uart;
    plant_channel_t channel;
    const board_pins_t *pins;
    double start_wall, sim_s;

    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "avr_rover: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--firmware") == 0) {
            firmware = v;
        } else if (strcmp(a, "--mcu") == 0) {
            mcu = v;
        } else if (strcmp(a, "--log") == 0) {
            log_path = v;
        } else if (strcmp(a, "--stats") == 0) {
            stats = v;
        } else if (strcmp(a, "--link") == 0) {
            link = v;
        } else if (strcmp(a, "--boot-count") == 0) {
            if (!parse_ul(a, v, 0xFFFFFFFEul, &boot_count)) {
                return 2;
            }
        } else if (strcmp(a, "--plant-fd") == 0) {
            if (!parse_ul(a, v, 1023ul, &plant_fd)) {
                return 2;
            }
            have_plant = 1;
        } else if (strcmp(a, "--ticks-per-rev") == 0) {
            if (!parse_ul(a, v, 1000000ul, &tpr) || tpr == 0) {
                return 2;
            }
        } else {
            fprintf(stderr, "avr_rover: unknown option %s\n", a);
            return 2;
        }
    }
    if (firmware == NULL) {
        fprintf(stderr, "avr_rover: --firmware ELF is required\n");
        return 2;
    }
    pins = board_by_mcu(mcu);
    if (pins == NULL) {
        fprintf(stderr, "avr_rover: --mcu %s: expected atmega328p or atmega2560\n", mcu);
        return 2;
    }
    /* simavr and uart_pty talk on stdout: keep stdout for our one line, the pty path. */
    fflush(stdout);
    saved_stdout = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    memset(&f, 0, sizeof f);
    if (elf_read_firmware(firmware, &f) != 0) {
        fprintf(stderr, "avr_rover: cannot read firmware %s\n", firmware);
        return 2;
    }
    strncpy(f.mmcu, mcu, sizeof f.mmcu - 1);
    f.frequency = 16000000u;
    avr = avr_make_mcu_by_name(f.mmcu);
    if (avr == NULL) {
        fprintf(stderr, "avr_rover: simavr does not know %s\n", mcu);
        return 2;
    }
    avr_init(avr);
    avr_load_firmware(avr, &f);
    avr->vcc = avr->avcc = avr->aref = 5000;
    avr->sleep = on_sleep;
    avr->log = 0; /* simavr's own messages off */

#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    memset(&g_host, 0, sizeof g_host);
    g_host.plant.no_load_radps = 13.6;
    g_host.plant.ticks_per_rev = (double)tpr;
    g_host.plant.gravity_mps2 = 9.80665;
    if (log_path != NULL) {
        g_host.plant.log = fopen(log_path, "w");
        if (g_host.plant.log == NULL) {
            perror("avr_rover: --log");
            return 2;
        }
    }
    event_log_init(&g_host.events, g_host.plant.log);
    if (have_plant) {
        plant_channel_open(&channel, (int)plant_fd);
        g_host.plant.channel = &channel;
    }
    if (plant_init(&g_host.plant, avr, pins) != 0) {
        fprintf(stderr, "avr_rover: cannot reach the encoder pins of %s\n", mcu);
        return 1;
    }
    {   /* The EEPROM's boot counter: the firmware adds one and derives its boot id. */
        uint8_t ee[4];
        avr_eeprom_desc_t d;
        uint32_t n = (uint32_t)boot_count;
        ee[0] = (uint8_t)n;
        ee[1] = (uint8_t)(n >> 8);
        ee[2] = (uint8_t)(n >> 16);
        ee[3] = (uint8_t)(n >> 24);
        d.ee = ee;
        d.offset = 0;
        d.size = 4;
        avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &d);
    }
    avr->data[MCUSR_ADDR] |= 1u; /* PORF: a power-on start */
    avr_register_io_write(avr, GPIOR0_ADDR, on_gpior0, &g_host);
    avr_register_io_write(avr, GPIOR1_ADDR, on_gpior1, &g_host);
    avr_cycle_timer_register_usec(avr, 1000, ms_timer, &g_host);

    uart_pty_init(avr, &uart);
    uart_pty_connect(&uart, '0');
    fflush(stdout);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
    if (link != NULL) {
        unlink(link);
        if (symlink(uart.pty.slavename, link) != 0) {
            perror("avr_rover: --link");
            return 1;
        }
    }
    printf("%s\n", uart.pty.slavename);
    fflush(stdout);

    /* Real-time pacing: run in slices, and wait whenever the AVR's clock is ahead. */
    start_wall = wall_s();
    while (!g_stop) {
        int k;
        for (k = 0; k < 2000; ++k) {
            int state = avr_run(avr);
            if (state == cpu_Done || state == cpu_Crashed) {
                fprintf(stderr, "avr_rover: the AVR stopped (state %d) at cycle %llu\n", state,
                        (unsigned long long)avr->cycle);
                g_stop = 1;
                break;
            }
        }
        sim_s = (double)avr->cycle / (double)avr->frequency;
        {
            double ahead = sim_s - (wall_s() - start_wall);
            if (ahead > 0.0005) {
                struct timespec ts;
                ts.tv_sec = 0;
                ts.tv_nsec = (long)(ahead * 1e9);
                nanosleep(&ts, NULL);
            }
        }
    }
    if (stats != NULL) {
        write_stats(stats, avr, wall_s() - start_wall);
    }
    /* No uart_pty_stop(): it can wait forever on its thread; exiting closes the pty. */
    if (link != NULL) {
        unlink(link);
    }
    if (g_host.plant.log != NULL) {
        fclose(g_host.plant.log);
    }
    return 0;
}
