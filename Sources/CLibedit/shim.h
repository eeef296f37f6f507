#ifndef CRESCENT_CLIBEDIT_SHIM_H
#define CRESCENT_CLIBEDIT_SHIM_H
#include <stdio.h>
#include <editline/readline.h>
#endif
