/* bf16_amx_model.c - the AMX path (bf16_amx.c) on a software model of its
 * tile instructions, for the tests on machines without AMX: the path's
 * blocking and operand layouts are checked against the oracle wherever
 * the tests run. */
#define AMX_MODEL 1
#include "bf16_amx.c"
