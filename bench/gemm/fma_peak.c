// The f32 FMA peak of this CPU: 12 independent chains of vector FMAs per thread (enough to cover FMA latency
// on 2 pipes), 200 M iterations, 1 and 2 threads. A ceiling for bench/score's GFLOP/s. AVX-512 when the
// compiler targets it (-march=native on such a CPU), else AVX2 + FMA.
//   cc -O2 -march=native fma_peak.c -lpthread -o fma_peak && ./fma_peak      (x86-64 with AVX2 + FMA or AVX-512)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
#ifdef __AVX512F__
typedef __m512 vec;
#define W 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#define ISA "AVX-512"
#else
typedef __m256 vec;
#define W 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#define ISA "AVX2"
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
float sink[16*16];
void* run(void*p){ vec a[12]; vec x=SET1(0.999f), y=SET1(0.0001f);
  for(int i=0;i<12;i++) a[i]=SET1(i);
  long n=200000000;
  for(long k=0;k<n;k++){
#pragma GCC unroll 12
    for(int i=0;i<12;i++) a[i]=FMA(a[i],x,y); }
  vec s=a[0]; for(int i=1;i<12;i++) s=ADD(s,a[i]); STORE(sink+16*(long)p,s); return 0;}
int main(){ for(int T=1;T<=2;T++){ pthread_t th[2]; double t=now(); for(long i=0;i<T;i++)pthread_create(&th[i],0,run,(void*)i); for(int i=0;i<T;i++)pthread_join(th[i],0); t=now()-t;
  printf("%d threads: %.1f GFLOP/s FMA peak (f32, " ISA ")\n",T, T*200000000.0*12*W*2/t/1e9);} }
