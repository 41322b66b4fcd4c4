#pragma once
#include <cblas.h>
// OpenBLAS threading control (declared in openblas_config / cblas.h on Debian).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// LAPACK (in libopenblas; Debian ships no lapack.h beside cblas.h). Column-major, 32-bit integers
// (Debian's OpenBLAS is built without INTERFACE64). Singular values of a general matrix by divide and
// conquer: jobz = 'N' computes values only (u, vt untouched); lwork = -1 returns the workspace size in work[0].
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *iwork, int *info);
// Selected eigenvalues of a symmetric matrix (MRRR): jobz = 'N', range = 'I' with il = iu = n gives the largest
// alone (ascending order); lwork = liwork = -1 return the workspace sizes in work[0] and iwork[0].
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info);
