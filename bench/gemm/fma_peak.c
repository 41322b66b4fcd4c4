// The f32 FMA peak of this CPU with AVX-512: 12 independent chains of _mm512_fmadd_ps per thread (enough to
// cover FMA latency on 2 pipes), 200 M iterations, 1 and 2 threads. A ceiling for bench/score's GFLOP/s.
//   cc -O2 -mavx512f fma_peak.c -lpthread -o fma_peak && ./fma_peak      (x86-64 with AVX-512 only)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
float sink[16*16];
void* run(void*p){ __m512 a[12]; __m512 x=_mm512_set1_ps(0.999f), y=_mm512_set1_ps(0.0001f);
  for(int i=0;i<12;i++) a[i]=_mm512_set1_ps(i);
  long n=200000000;
  for(long k=0;k<n;k++){ 
#pragma GCC unroll 12
    for(int i=0;i<12;i++) a[i]=_mm512_fmadd_ps(a[i],x,y); }
  __m512 s=a[0]; for(int i=1;i<12;i++) s=_mm512_add_ps(s,a[i]); _mm512_storeu_ps(sink+16*(long)p,s); return 0;}
int main(){ for(int T=1;T<=2;T++){ pthread_t th[2]; double t=now(); for(long i=0;i<T;i++)pthread_create(&th[i],0,run,(void*)i); for(int i=0;i<T;i++)pthread_join(th[i],0); t=now()-t;
  printf("%d threads: %.1f GFLOP/s FMA peak (f32, AVX-512)\n",T, T*200000000.0*12*16*2/t/1e9);} }
