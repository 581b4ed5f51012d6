/* Picks the board header by the target MCU (arduino-builder sets it from --board). */
#ifndef LS_BOARD_H
#define LS_BOARD_H
#if defined(__AVR_ATmega328P__)
#include "board_uno.h"
#elif defined(__AVR_ATmega2560__)
#include "board_mega.h"
#else
#error "lunarsite_rover: no board header for this MCU (board_uno.h, board_mega.h)"
#endif
#endif
