#pragma once
// HDF5's type and flag "constants" are macros that expand to function calls or
// globals Swift cannot import; these wrappers expose them as plain functions.
#include <hdf5.h>

static inline hid_t gl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t gl_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t gl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t gl_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t gl_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline unsigned gl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned gl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t gl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t gl_h5s_all(void) { return H5S_ALL; }
/// Silence HDF5's own error printing; gpt2lab reports errors itself.
static inline void gl_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
