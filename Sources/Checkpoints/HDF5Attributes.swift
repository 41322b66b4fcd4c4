// Sizes an HDF5 checkpoint states as attributes of its root group (h5py: `f.attrs["n_head"] = 12`),
// under the keys a config.json would use (Heads.swift's sizeKeys). Only single integers count; an
// attribute of such a name holding anything else is refused rather than skipped.

import CHDF5
import Foundation

extension HDF5File {
    /// The root group's integer attributes named `keys` (absent ones left out).
    static func rootIntegers(_ file: hid_t, keys: [String], path: String) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for key in keys where H5Aexists(file, key) > 0 {
            let a = H5Aopen(file, key, gl_h5p_default())
            guard a >= 0 else { throw CheckpointError(path, .hdf5, "libhdf5 cannot open the root attribute '\(key)'") }
            defer { H5Aclose(a) }
            let space = H5Aget_space(a), type = H5Aget_type(a)
            defer { H5Sclose(space); H5Tclose(type) }
            var value: Int64 = 0
            guard H5Tget_class(type) == H5T_INTEGER, H5Sget_simple_extent_npoints(space) == 1,
                  H5Aread(a, gl_h5t_native_int64(), &value) >= 0 else {
                throw CheckpointError(path, .badConfig, "the root attribute '\(key)' is not one integer")
            }
            out[key] = Int(value)
        }
        return out
    }
}
