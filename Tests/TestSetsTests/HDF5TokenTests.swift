import CHDF5
import Foundation
import TestSets
import XCTest

/// A token-id dataset in an HDF5 file (written here through libhdf5) reads back exactly.
final class HDF5TokenTests: XCTestCase {
    func testReadsNamedDataset() throws {
        let path = NSTemporaryDirectory() + "gpt2lab-ts-\(UUID().uuidString).h5"
        defer { unlink(path) }
        let ids: [UInt16] = [50256, 464, 3290, 318, 257, 1332]
        gl_h5_silence_errors()
        let f = H5Fcreate(path, gl_h5f_acc_trunc(), gl_h5p_default(), gl_h5p_default())
        XCTAssertGreaterThanOrEqual(f, 0)
        var dims: [hsize_t] = [hsize_t(ids.count)]
        let space = H5Screate_simple(1, &dims, nil)
        let g = H5Gcreate2(f, "data", gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
        let d = H5Dcreate2(g, "ids", gl_h5t_std_u16le(), space, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
        _ = ids.withUnsafeBytes { H5Dwrite(d, gl_h5t_native_uint16(), gl_h5s_all(), gl_h5s_all(), gl_h5p_default(), $0.baseAddress) }
        H5Dclose(d); H5Gclose(g); H5Sclose(space); H5Fclose(f)

        let file = try loadTokenIDs(path: path, dataset: "data/ids")
        XCTAssertEqual(file.ids, ids.map(Int32.init))
        XCTAssertEqual(file.format, "hdf5")
        XCTAssertEqual(try loadTokenIDs(path: path, dataset: nil).ids.count, ids.count)   // the only integer dataset
        XCTAssertThrowsError(try loadTokenIDs(path: path, dataset: "nope"))
    }
}
