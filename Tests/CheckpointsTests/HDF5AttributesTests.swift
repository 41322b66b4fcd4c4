import CHDF5
import Checkpoints
import Foundation
import XCTest

/// Root-group attributes of an HDF5 checkpoint (h5py's `f.attrs["n_head"] = 4`) state its sizes:
/// the HF-TF fixture, which states none, gets them written into a copy.
final class HDF5AttributesTests: XCTestCase {
    /// A copy of the HF-TF layout fixture with integer root attributes `attrs`.
    func copy(with attrs: [String: Int64]) throws -> String {
        let src = try fixtures() + "/layouts/reference-tf_model-f16.h5"
        let path = try tempDir(self) + "/tf_model.h5"
        try FileManager.default.copyItem(atPath: src, toPath: path)
        let f = H5Fopen(path, gl_h5f_acc_rdwr(), gl_h5p_default())
        XCTAssertGreaterThanOrEqual(f, 0)
        for (key, v) in attrs {
            var value = v
            let space = gl_h5s_scalar()
            let a = H5Acreate2(f, key, gl_h5t_native_int64(), space, gl_h5p_default(), gl_h5p_default())
            XCTAssertGreaterThanOrEqual(H5Awrite(a, gl_h5t_native_int64(), &value), 0)
            H5Aclose(a); H5Sclose(space)
        }
        H5Fclose(f)
        return path
    }

    func testRootAttributesGiveTheHeadsAndAreChecked() throws {
        let stated = try loadCheckpoint(path: try copy(with: ["n_head": 4, "n_layer": 6, "n_embd": 128]))
        XCTAssertEqual(stated.shapeSource, .hdf5Attributes)
        XCTAssertEqual(stated.config.nHead, 4)
        let given = try loadCheckpoint(path: try fixtures() + "/layouts/reference-tf_model-f16.h5", heads: 4)
        XCTAssertEqual(stated.weights.data, given.weights.data)

        let wrong = try copy(with: ["n_head": 4, "n_layer": 5])
        assertFails(wrong, containing: ["the HDF5 root attribute says n_layer = 5 but the tensors' shapes give 6"]) {
            _ = try loadCheckpoint(path: wrong)
        }
        let contradicted = try copy(with: ["n_head": 8])
        assertFails(contradicted, containing: ["--heads 4 contradicts the HDF5 root attribute's n_head = 8"]) {
            _ = try loadCheckpoint(path: contradicted, heads: 4)
        }
    }
}
