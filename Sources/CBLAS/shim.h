#pragma once
#include <cblas.h>
// OpenBLAS threading control (declared in openblas_config / cblas.h on Debian).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
