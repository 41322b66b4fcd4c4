import CHDF5
@testable import Checkpoints
import Foundation
import XCTest

/// Resource limits: a lying header or a hostile file is refused before anything big is
/// allocated, and a group tree that loops or nests forever is walked in bounded time.
final class LimitsTests: XCTestCase {
    func safetensors(_ dir: String, _ name: String, header: String, dataBytes: Int = 0) throws -> String {
        let path = dir + "/" + name
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: dataBytes))
        try d.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testTerabyteTensorRefused() throws {
        let dir = try tempDir(self)
        let tb = try safetensors(dir, "tb.safetensors", header: #"{"a":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#, dataBytes: 16)
        assertFails(tb, containing: ["more bytes than the file's data area"]) { _ = try SafetensorsFile(path: tb) }
        let wrap = try safetensors(dir, "wrap.safetensors", header: #"{"a":{"dtype":"I64","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#)
        assertFails(wrap, containing: ["more bytes"]) { _ = try SafetensorsFile(path: wrap) }
    }

    func testTensorCountLimit() throws {
        let dir = try tempDir(self)
        let n = SafetensorsFile.maxTensors + 1
        let entries = (0..<n).map { #""t\#($0)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"# }
        let many = try safetensors(dir, "many.safetensors", header: "{" + entries.joined(separator: ",") + "}")
        assertFails(many, containing: ["\(SafetensorsFile.maxTensors)-tensor limit"]) { _ = try SafetensorsFile(path: many) }
        let ok = try safetensors(dir, "ok.safetensors", header: "{" + entries.prefix(1000).joined(separator: ",") + "}")
        XCTAssertEqual(try SafetensorsFile(path: ok).tensorNames.count, 1000)
    }

    /// Found writing the fuzz targets: one tensor named "h.999999999.…" made the loader plan 10⁹ blocks.
    func testBlockIndexIsNotASize() throws {
        let dir = try tempDir(self), path = dir + "/blocks.safetensors"
        try writeSafetensors(path: path, tensors: [
            TensorToWrite(name: "wte.weight", shape: [2, 4], values: [Float](repeating: 0, count: 8)),
            TensorToWrite(name: "wpe.weight", shape: [2, 4], values: [Float](repeating: 0, count: 8)),
            TensorToWrite(name: "h.999999999.ln_1.weight", shape: [4], values: [1, 1, 1, 1]),
        ])
        let start = Date()
        assertFails(path, containing: ["1000000000 blocks", "3 tensors"]) { _ = try loadCheckpoint(path: path, heads: 1) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    // MARK: HDF5

    /// Writes an HDF5 file with `body(file)`.
    func hdf5(_ dir: String, _ name: String, _ body: (hid_t) -> Void) -> String {
        let path = dir + "/" + name
        gl_h5_silence_errors()
        let f = H5Fcreate(path, gl_h5f_acc_trunc(), gl_h5p_default(), gl_h5p_default())
        body(f)
        H5Fclose(f)
        return path
    }

    func dataset(_ loc: hid_t, _ name: String, _ values: [Float]) {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        let d = H5Dcreate2(loc, name, gl_h5t_file_type(0), space, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
        _ = values.withUnsafeBytes { H5Dwrite(d, gl_h5t_native_float(), gl_h5s_all(), gl_h5s_all(), gl_h5p_default(), $0.baseAddress) }
        H5Dclose(d); H5Sclose(space)
    }

    /// A float type that is not IEEE (here binary32's layout with an exponent bias of 0, as one flipped byte of a
    /// file's metadata made it) is refused; libhdf5 converted such values to other numbers and the loss changed, exit 0.
    func testNonIEEEFloatTypeRefused() throws {
        let dir = try tempDir(self)
        let path = hdf5(dir, "bias.h5") { f in
            let t = H5Tcopy(gl_h5t_file_type(0))
            _ = H5Tset_ebias(t, 0)
            var dims = [hsize_t(3)]
            let space = H5Screate_simple(1, &dims, nil)
            let d = H5Dcreate2(f, "w", t, space, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
            let values: [Float] = [1, 2, 3]
            _ = values.withUnsafeBytes { H5Dwrite(d, t, gl_h5s_all(), gl_h5s_all(), gl_h5p_default(), $0.baseAddress) }
            H5Dclose(d); H5Sclose(space); H5Tclose(t)
            dataset(f, "ok", [1, 2, 3])
        }
        assertFails(path, containing: ["dataset '/w' is a 32-bit float that is not IEEE binary32", "bias 0"]) { _ = try HDF5File(path: path) }
        XCTAssertNil(nonIEEEFloatLayout(gl_h5t_file_type(0)))
        XCTAssertNil(nonIEEEFloatLayout(gl_h5t_file_type(1)))
    }

    /// A dataset compressed with a filter this libhdf5 lacks (h5py's lzf, Fixtures/lzf.h5 from
    /// tests/reference/hdf5_lzf_fixture.py) names the filter instead of only "cannot read dataset".
    func testMissingFilterIsNamed() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/lzf.h5").path
        let h = try HDF5File(path: path)
        XCTAssertEqual(h.datasets.map(\.path), ["w"])
        assertFails(path, containing: ["cannot read dataset 'w'", "filter 32000 (lzf)", "re-save it uncompressed or with gzip"]) {
            _ = try h.floats("w")
        }
    }

    func testCyclicGroupsWalkedOnce() throws {
        let dir = try tempDir(self)
        let path = hdf5(dir, "cycle.h5") { f in
            let a = H5Gcreate2(f, "a", gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
            let b = H5Gcreate2(a, "b", gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
            dataset(b, "x", [1, 2, 3])
            _ = H5Lcreate_hard(f, ".", b, "root", gl_h5p_default(), gl_h5p_default())   // /a/b/root → /
            _ = H5Lcreate_hard(a, ".", b, "up", gl_h5p_default(), gl_h5p_default())     // /a/b/up → /a
            _ = H5Lcreate_soft("/a", b, "soft", gl_h5p_default(), gl_h5p_default())     // /a/b/soft → /a
            H5Gclose(b); H5Gclose(a)
        }
        let h = try HDF5File(path: path)
        XCTAssertEqual(h.datasets.map(\.path), ["a/b/x"])
        XCTAssertEqual(try h.floats("a/b/x"), [1, 2, 3])
    }

    func testDeepGroupsRefused() throws {
        let dir = try tempDir(self)
        let path = hdf5(dir, "deep.h5") { f in
            var g = H5Gopen2(f, "/", gl_h5p_default())
            for _ in 0..<(HDF5File.maxDepth + 5) {
                let next = H5Gcreate2(g, "g", gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
                H5Gclose(g); g = next
            }
            dataset(g, "x", [1])
            H5Gclose(g)
        }
        assertFails(path, containing: ["deeper than \(HDF5File.maxDepth)"]) { _ = try HDF5File(path: path) }
    }

    /// A chunked dataset that declares 2⁴⁰ elements but was never written: refused, not allocated.
    func testLyingDatasetShapeRefused() throws {
        let dir = try tempDir(self)
        let path = hdf5(dir, "lying.h5") { f in
            for (name, dims) in [("huge", [hsize_t(1) << 16, hsize_t(1) << 12])] {
                var d = dims, chunk = dims.map { _ in hsize_t(1) }
                let dcpl = gl_h5p_create_dcpl()
                H5Pset_chunk(dcpl, Int32(d.count), &chunk)
                let space = H5Screate_simple(Int32(d.count), &d, nil)
                let g = H5Gcreate2(f, name, gl_h5p_default(), gl_h5p_default(), gl_h5p_default())
                H5Dclose(H5Dcreate2(g, "w", gl_h5t_file_type(0), space, gl_h5p_default(), dcpl, gl_h5p_default()))
                H5Gclose(g); H5Sclose(space); H5Pclose(dcpl)
            }
        }
        assertFails(path, containing: ["huge/w", "stores 0"]) { _ = try HDF5File(path: path) }
        let over = hdf5(dir, "overflow.h5") { f in
            var d = [hsize_t(Int32.max), hsize_t(Int32.max), hsize_t(Int32.max)], chunk = [hsize_t(1), 1, 1]
            let dcpl = gl_h5p_create_dcpl()
            H5Pset_chunk(dcpl, 3, &chunk)
            let space = H5Screate_simple(3, &d, nil)
            H5Dclose(H5Dcreate2(f, "w", gl_h5t_file_type(0), space, gl_h5p_default(), dcpl, gl_h5p_default()))
            H5Sclose(space); H5Pclose(dcpl)
        }
        assertFails(over, containing: ["more than \(HDF5File.maxElements) elements"]) { _ = try HDF5File(path: over) }
    }
}
