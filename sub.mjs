import fs from "node:fs"; import p from "onnx-proto"; const {onnx}=p;
const m=onnx.ModelProto.decode(fs.readFileSync(process.argv[2]));
const g=m.graph; const prod=new Map(); for(const n of g.node) for(const o of n.output) prod.set(o,n);
const inits=new Map(g.initializer.map(t=>[t.name,t]));
const show=(name,d=0)=>{const n=prod.get(name); if(!n||d>7){const t=inits.get(name); console.log("  ".repeat(d)+name+(t?` init dims=${t.dims} ${t.int64Data?.slice?.(0,8)||""}`:" input")); return;}
 console.log("  ".repeat(d)+`${n.opType} ${n.name} -> ${name} ${JSON.stringify(n.attribute.map(a=>[a.name,a.i??a.ints??a.f]))}`); for(const i of n.input) show(i,d+1);};
const node=g.node.find(n=>n.name===process.argv[3]); console.log(node.opType, node.input, node.output); for (const i of node.input) show(i,1);
