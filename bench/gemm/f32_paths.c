// f32 GEMM paths on GPT-2 small's shapes, interleaved in one process so that a shared VM's drifting
// speed hits every configuration alike: each of 12 rounds (2 warm-up) runs every configuration once on
// 2 threads (barrier-synchronised), each thread doing half of 1024 rows; cold weights (12 layers of
// qkv / attn proj / fc / fc proj, 25 LM-head vocabulary blocks of 2048 × 768, ~250 MB, more than L3).
// "block" = the four block products in units of (rows × cols); "head" = LM-head blocks, `rows` per call.
// OpenBLAS single-threaded per call, oneDNN with one OpenMP thread and a primitive cached per shape,
// as gpt2lab calls them (Sources/Engine/Kernels/Matmul.swift, MatmulF32Choice.swift, Sources/CDNNL).
//   cc -O2 f32_paths.c -ldnnl -lopenblas -lgomp -lpthread -o f32_paths && OPENBLAS_CORETYPE=SkylakeX ./f32_paths
// (OPENBLAS_CORETYPE as gpt2lab's runtime selection would set it on this CPU: `gpt2lab doctor`.)
// interleaved: each iteration runs every config once (both threads, barrier), accumulates time per config
#include <oneapi/dnnl/dnnl.h>
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
void omp_set_num_threads(int);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
dnnl_engine_t eng;
int S[5][2]={{768,2304},{768,768},{768,3072},{3072,768},{768,2048}}; // k, m ; last = head block
#define L 12
#define HB 25
float *W[L][4]; float *H[HB];
typedef struct{int dnnl, rows, mb, head;} cfg;
cfg C[]={{0,256,1<<20,0},{0,512,768,0},{0,512,1<<20,0},{1,256,1<<20,0},{1,256,768,0},{1,512,768,0},
         {0,256,1<<20,1},{0,512,1<<20,1},{0,1024,1<<20,1},{1,256,1<<20,1},{1,512,1<<20,1}};
#define NC (sizeof C/sizeof C[0])
double TT[2][NC], FL[NC];
pthread_barrier_t bar;
typedef struct{int rows,k,m,ldc; dnnl_primitive_t p; size_t scr;} ent; ent cache[64]; int nc; pthread_mutex_t lk=PTHREAD_MUTEX_INITIALIZER;
__thread dnnl_stream_t st; __thread void*scr; 
void dn(float*o,int ldc,const float*x,const float*w,int rows,int k,int m){
  pthread_mutex_lock(&lk); ent*e=0; for(int i=0;i<nc;i++) if(cache[i].rows==rows&&cache[i].k==k&&cache[i].m==m&&cache[i].ldc==ldc) e=&cache[i];
  dnnl_memory_desc_t A,B,Cd,SD; dnnl_dims_t da={rows,k},sa={k,1},db={k,m},sb={1,k},dc={rows,m},sc={ldc,1};
  dnnl_memory_desc_init_by_strides(&A,2,da,dnnl_f32,sa);dnnl_memory_desc_init_by_strides(&B,2,db,dnnl_f32,sb);dnnl_memory_desc_init_by_strides(&Cd,2,dc,dnnl_f32,sc);
  if(!e){ dnnl_matmul_desc_t md; dnnl_matmul_desc_init(&md,&A,&B,NULL,&Cd); dnnl_primitive_attr_t at; dnnl_primitive_attr_create(&at); dnnl_primitive_attr_set_scratchpad_mode(at,dnnl_scratchpad_mode_user);
    dnnl_primitive_desc_t pd; dnnl_primitive_desc_create(&pd,&md,at,eng,NULL); e=&cache[nc++]; e->rows=rows;e->k=k;e->m=m;e->ldc=ldc; e->scr=dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd,dnnl_query_scratchpad_md,0)); dnnl_primitive_create(&e->p,pd);}
  pthread_mutex_unlock(&lk);
  if(!st){dnnl_stream_create(&st,eng,dnnl_stream_default_flags); scr=malloc(64<<20);}
  dnnl_dims_t ds={(int64_t)e->scr+1}; dnnl_memory_desc_init_by_tag(&SD,1,ds,dnnl_u8,dnnl_a);
  dnnl_memory_t ma,mb,mc,ms; dnnl_memory_create(&ma,&A,eng,(void*)x);dnnl_memory_create(&mb,&B,eng,(void*)w);dnnl_memory_create(&mc,&Cd,eng,o);dnnl_memory_create(&ms,&SD,eng,scr);
  dnnl_exec_arg_t args[4]={{DNNL_ARG_SRC,ma},{DNNL_ARG_WEIGHTS,mb},{DNNL_ARG_DST,mc},{DNNL_ARG_SCRATCHPAD,ms}};
  dnnl_primitive_execute(e->p,st,4,args); dnnl_stream_wait(st); dnnl_memory_destroy(ma);dnnl_memory_destroy(mb);dnnl_memory_destroy(mc);dnnl_memory_destroy(ms);}
void prod(cfg c,float*o,int ldc,const float*x,const float*w,int rows,int k,int m){
  for(int c0=0;c0<m;c0+=c.mb){int mm=m-c0<c.mb?m-c0:c.mb;
    if(c.dnnl) dn(o+c0,ldc,x,w+(long)c0*k,rows,k,mm); else cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,rows,mm,k,1,x,k,w+(long)c0*k,k,0,o+c0,ldc);}}
float *X[2],*O[2];
void*work(void*p){int id=(long)p; omp_set_num_threads(1);
  for(int it=0;it<12;it++) for(int ci=0;ci<NC;ci++){ cfg c=C[ci]; pthread_barrier_wait(&bar); double t=now(); double fl=0;
    // each thread does 1024/2 rows of work per layer in blocks of c.rows
    if(!c.head){ for(int l=0;l<L;l++) for(int s=0;s<4;s++) for(int r=0;r<512;r+=c.rows){int rr=512-r<c.rows?512-r:c.rows; prod(c,O[id],S[s][1],X[id]+(long)r*S[s][0],W[l][s],rr,S[s][0],S[s][1]); fl+=2.0*rr*S[s][0]*S[s][1];}}
    else { for(int b=id;b<HB;b+=2) for(int r=0;r<1024;r+=c.rows){ prod(c,O[id],2048,X[id]+(long)r*768,H[b],c.rows,768,2048); fl+=2.0*c.rows*768*2048;}}
    if(it>=2){TT[id][ci]+=now()-t; FL[ci]=fl;} }
  return 0;}
int main(){ dnnl_engine_create(&eng,dnnl_cpu,0);
  for(int l=0;l<L;l++)for(int s=0;s<4;s++){long n=(long)S[s][0]*S[s][1]; W[l][s]=malloc(4*n); for(long i=0;i<n;i++)W[l][s][i]=rand()/(float)RAND_MAX-0.5f;}
  for(int b=0;b<HB;b++){H[b]=malloc(4L*2048*768); for(long i=0;i<2048L*768;i++)H[b][i]=rand()/(float)RAND_MAX-0.5f;}
  for(int i=0;i<2;i++){X[i]=malloc(4L*1024*3072); for(long j=0;j<1024L*3072;j++)X[i][j]=rand()/(float)RAND_MAX-0.5f; O[i]=malloc(4L*1024*3072);}
  pthread_barrier_init(&bar,0,2); pthread_t th[2]; for(long i=0;i<2;i++)pthread_create(&th[i],0,work,(void*)i); for(int i=0;i<2;i++)pthread_join(th[i],0);
  for(int ci=0;ci<NC;ci++){double r=0; for(int i=0;i<2;i++) r+=FL[ci]*10/TT[i][ci]/1e9; printf("%s %s rows %4d cols %7d: %.1f GF/s (2 threads)\n",C[ci].head?"head ":"block",C[ci].dnnl?"onednn  ":"openblas",C[ci].rows,C[ci].mb,r);}}
