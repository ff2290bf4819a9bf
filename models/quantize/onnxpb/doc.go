// Package onnxpb holds the ONNX protobuf types (ModelProto, GraphProto,
// NodeProto, TensorProto, ...) generated from onnx.proto with protoc-gen-go.
//
// onnx.proto is ONNX 1.12's (Apache-2.0, SPDX header in the file), taken
// from Debian's libonnx-dev (/usr/include/onnx/onnx.proto). Fields added by
// later ONNX releases are kept as unknown fields, so a model read and
// written again loses nothing. Regenerate after replacing onnx.proto with
// (protoc from Debian's protobuf-compiler, protoc-gen-go from
// google.golang.org/protobuf/cmd/protoc-gen-go):
//
//	protoc --go_out=. --go_opt=paths=source_relative \
//	    --go_opt=Monnx.proto=mmsearch/models/quantize/onnxpb onnx.proto
package onnxpb
