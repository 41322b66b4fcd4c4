// sgemm GFLOP/s of the loaded OpenBLAS on gpt2lab's shapes: each of THREADS threads runs its own
// single-threaded cblas_sgemm on a 256-row block (the way gpt2lab's matmulForward calls it), and the
// rate is the sum over threads. Shapes (rows × out × in) are GPT-2 small's four linear layers and one
// LM-head vocabulary block. Best of 3 timings of 10 calls each; prints one JSON line.
//   cc -O2 sgemm_rate.c -lopenblas -lpthread -o sgemm_rate && OPENBLAS_CORETYPE=SkylakeX ./sgemm_rate 2
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

char *openblas_get_corename(void);
void openblas_set_num_threads(int);

typedef struct { int m, n, k; float *a, *b, *c; int reps; } job;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *run(void *p) {
    job *j = p;
    for (int r = 0; r < j->reps; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->m, j->n, j->k, 1, j->a, j->k, j->b, j->k, 0, j->c, j->n);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) { fprintf(stderr, "threads: 1..64\n"); return 2; }
    openblas_set_num_threads(1);
    const int shapes[][3] = {{256, 2304, 768}, {256, 768, 768}, {256, 3072, 768}, {256, 768, 3072}, {256, 2048, 768}};
    const int ns = sizeof shapes / sizeof shapes[0];
    double flops = 0, secs = 0;
    printf("{\"core\":\"%s\",\"threads\":%d,\"shapes\":[", openblas_get_corename(), threads);
    for (int s = 0; s < ns; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        job *js = calloc(threads, sizeof *js);
        for (int t = 0; t < threads; t++) {
            js[t] = (job){m, n, k, malloc(4L * m * k), malloc(4L * n * k), malloc(4L * m * n), 1};
            for (long i = 0; i < (long)m * k; i++) js[t].a[i] = (float)(i % 7) * 0.1f;
            for (long i = 0; i < (long)n * k; i++) js[t].b[i] = (float)(i % 5) * 0.1f;
            run(&js[t]);  // warm-up (and packing buffers)
            js[t].reps = 10;
        }
        double best = 1e30;
        for (int trial = 0; trial < 3; trial++) {
            pthread_t th[64];
            double t0 = now();
            for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, run, &js[t]);
            for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        double f = 2.0 * m * n * k * 10 * threads;
        flops += f; secs += best;
        printf("%s{\"m\":%d,\"n\":%d,\"k\":%d,\"gflops_per_second\":%.1f}", s ? "," : "", m, n, k, f / best / 1e9);
        for (int t = 0; t < threads; t++) { free(js[t].a); free(js[t].b); free(js[t].c); }
        free(js);
    }
    printf("],\"gflops_per_second\":%.1f}\n", flops / secs / 1e9);
    return 0;
}
