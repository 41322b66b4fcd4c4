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
static inline unsigned gl_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hid_t gl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t gl_h5s_all(void) { return H5S_ALL; }
static inline hid_t gl_h5s_scalar(void) { return H5Screate(H5S_SCALAR); }
/// Silence HDF5's own error printing; gpt2lab reports errors itself.
static inline void gl_h5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Opens the object a hard link names (caller closes it with H5Oclose) and says its kind:
/// 0 group, 1 dataset, 2 other. Returns -1 for soft and external links (not followed) and
/// errors. `identity` is a number that is the same for two links to the same object (for
/// cycle detection). One lookup of `name`, where asking the kind and then opening took three.
static inline hid_t gl_h5_open_hard(hid_t loc, const char *name, unsigned long long *identity, int *kind) {
    H5L_info_t linfo;
    if (H5Lget_info(loc, name, &linfo, H5P_DEFAULT) < 0) return -1;
    if (linfo.type != H5L_TYPE_HARD) return -1;
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) return -1;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(obj, &info, H5O_INFO_BASIC) < 0) { H5Oclose(obj); return -1; }
    unsigned long long id = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof(info.token.__data); i++) { id ^= info.token.__data[i]; id *= 1099511628211ULL; }
    *identity = id;
#else
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) { H5Oclose(obj); return -1; }
    *identity = (unsigned long long)info.addr;
#endif
    *kind = info.type == H5O_TYPE_GROUP ? 0 : info.type == H5O_TYPE_DATASET ? 1 : 2;
    return obj;
}
static inline hid_t gl_h5t_std_u16le(void) { return H5T_STD_U16LE; }

// For writing test and fuzz files.
/// A new dataset-creation property list (for chunked layouts).
static inline hid_t gl_h5p_create_dcpl(void) { return H5Pcreate(H5P_DATASET_CREATE); }
/// File element types by index: 0 f32, 1 f64, 2 i32, 3 u16, 4 i64, 5 u8, 6 i8, 7 a C string (not numeric).
static inline hid_t gl_h5t_file_type(int k) {
    switch (k) {
    case 0: return H5T_IEEE_F32LE; case 1: return H5T_IEEE_F64LE; case 2: return H5T_STD_I32LE;
    case 3: return H5T_STD_U16LE; case 4: return H5T_STD_I64LE; case 5: return H5T_STD_U8LE;
    case 6: return H5T_STD_I8LE; default: return H5T_C_S1;
    }
}
